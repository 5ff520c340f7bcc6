// Tests of training checkpoints (include/evaclip/train/train_state.hpp): exact round trips, damaged files
// named by file and tensor, find_latest_checkpoint passing over missing, truncated and damaged steps with one
// warning each, checkpoints without checksums, and a full disk that keeps the previous checkpoint.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "common/file_size_limit.hpp"
#include "common/temp_dir.hpp"
#include "common/test_util.hpp"
#include "evaclip/train/train_state.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {

// Two parameters and an AdamW whose steps give it moments to save.
struct StateRun {
  nn::ParamList params;
  std::unique_ptr<train::Optimizer> opt;
  explicit StateRun(std::uint64_t seed) {
    params = {{"visual.w", Var::parameter(test::randn({16, 8}, DType::f32, seed), DType::f32)},
              {"logit_scale", Var::parameter(Tensor::full({}, DType::f32, 2.5), DType::f32)}};
    opt = train::make_optimizer("adamw", {{"all", 1e-2, 1.0, 0.05, params}});
  }
  void step(std::uint64_t seed) {
    for (const auto& p : params) {
      p.var.clear_grad();
      p.var.accumulate_grad(test::randn(p.var.shape(), DType::f32, seed));
    }
    opt->step(1.0);
  }
  train::CheckpointPaths save(const fs::path& dir, int step) {
    return train::save_checkpoint(dir.string(), params, *opt, {{"step", std::to_string(step)}, {"note", "x"}});
  }
};

class TrainState : public test::TempDirTest {
 protected:
  // find_latest_checkpoint, with its warnings collected.
  std::string latest(std::vector<std::string>& warnings) const {
    return train::find_latest_checkpoint(dir_.string(), [&](const std::string& w) { warnings.push_back(w); });
  }
};

// Flips one bit in the middle of tensor `key`'s data in a safetensors file.
void flip_tensor_byte(const std::string& path, const std::string& key) {
  const SafetensorsEntry e = SafetensorsFile(path).entry(key);
  std::uint64_t n = 0;  // the header's length
  std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(&n), 8);
  test::flip_byte(path, 8 + n + (e.begin + e.end) / 2, 0x04);
}

bool same_values(const nn::ParamList& a, const nn::ParamList& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!test::allclose(a[i].var.value(), b[i].var.value(), 0, 0)) return false;
  return true;
}

}  // namespace

TEST_F(TrainState, RoundTripIsExactAndBothFilesCarryChecksums) {
  StateRun run(1);
  run.step(2);
  run.step(3);
  const auto paths = run.save(dir_, 2);
  EXPECT_TRUE(SafetensorsFile(paths.model).has_checksums());
  EXPECT_TRUE(SafetensorsFile(paths.state).has_checksums());

  StateRun fresh(9);
  const train::Metadata meta = train::load_checkpoint(paths.model, fresh.params, *fresh.opt);
  EXPECT_EQ(meta, (train::Metadata{{"step", "2"}, {"note", "x"}}));  // the checksums are not metadata
  EXPECT_TRUE(same_values(run.params, fresh.params));
  run.step(4), fresh.step(4);  // the optimiser state came back too
  EXPECT_TRUE(same_values(run.params, fresh.params));
}

TEST_F(TrainState, AFlippedByteFailsTheLoadNamingFileAndTensorAndChangesNothing) {
  StateRun run(1);
  run.step(2);
  const auto paths = run.save(dir_, 1);
  flip_tensor_byte(paths.state, "optim.exp_avg.visual.w");
  StateRun fresh(9), untouched(9);
  EXPECT_THROW_MSG(train::load_checkpoint(paths.model, fresh.params, *fresh.opt),
                   paths.state + ": tensor 'optim.exp_avg.visual.w': data checksum");
  EXPECT_TRUE(same_values(fresh.params, untouched.params));  // checked before anything is assigned

  const auto second = run.save(dir_, 2);
  flip_tensor_byte(second.model, "visual.w");
  EXPECT_THROW_MSG(train::load_checkpoint(second.model, fresh.params, *fresh.opt),
                   second.model + ": tensor 'visual.w': data checksum");
  EXPECT_TRUE(same_values(fresh.params, untouched.params));
}

TEST_F(TrainState, LatestPassesOverTruncatedAndDamagedStepsWithOneWarningEach) {
  StateRun run(1);
  for (int step = 1; step <= 4; ++step) {
    run.step(std::uint64_t(step));
    run.save(dir_, step);
  }
  const auto p2 = train::checkpoint_paths(dir_.string(), 2), p3 = train::checkpoint_paths(dir_.string(), 3),
             p4 = train::checkpoint_paths(dir_.string(), 4);
  fs::resize_file(p4.model, fs::file_size(p4.model) / 2);  // a copy cut short
  flip_tensor_byte(p3.state, "optim.exp_avg_sq.visual.w");
  std::vector<std::string> warnings;
  EXPECT_EQ(latest(warnings), p2.model);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0].rfind("skipping checkpoint " + p4.model + ": ", 0), 0u) << warnings[0];
  EXPECT_NE(warnings[0].find("run past the data section"), std::string::npos) << warnings[0];
  EXPECT_EQ(warnings[1].rfind("skipping checkpoint " + p3.model + ": ", 0), 0u) << warnings[1];
  EXPECT_NE(warnings[1].find(p3.state + ": tensor 'optim.exp_avg_sq.visual.w': data checksum"), std::string::npos)
      << warnings[1];
  for (const auto& w : warnings) EXPECT_EQ(w.find('\n'), std::string::npos) << w;

  StateRun fresh(9);
  EXPECT_EQ(train::load_checkpoint(p2.model, fresh.params, *fresh.opt).at("step"), "2");
}

TEST_F(TrainState, LatestNeedsBothFilesOfTheSameStep) {
  StateRun run(1);
  run.step(1);
  const auto p2 = run.save(dir_, 2);
  const auto p9 = run.save(dir_, 9);
  fs::remove(p9.model);  // stopped between the state file and the model file
  fs::copy_file(p2.model, train::checkpoint_paths(dir_.string(), 12).model);  // step 12's files: another step's
  fs::copy_file(train::checkpoint_paths(dir_.string(), 9).state, train::checkpoint_paths(dir_.string(), 12).state);
  std::ofstream((dir_ / "step_000015.safetensors").string()) << "x";  // not a checkpoint at all
  std::ofstream((dir_ / "step_000015.state.safetensors").string()) << "x";
  std::ofstream((dir_ / "step_000020.safetensors.tmp.123").string()) << "x";  // a writer's leftover: not a step
  std::vector<std::string> warnings;
  EXPECT_EQ(latest(warnings), p2.model);
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_NE(warnings[0].find("step_000015.safetensors: safetensors: "), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("is step 2 but"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[2].find(p9.model + ": safetensors: cannot open " + p9.model), std::string::npos) << warnings[2];
  EXPECT_EQ(train::find_latest_checkpoint((dir_ / "none").string()), "");
}

// Checkpoints written before checksums existed (and weights files from elsewhere) still load and resume.
TEST_F(TrainState, ACheckpointWithoutChecksumsLoads) {
  StateRun run(1);
  run.step(2);
  const auto paths = run.save(dir_, 3);
  for (const std::string& path : {paths.model, paths.state}) {
    const SafetensorsFile f(path);
    std::map<std::string, Tensor> tensors;
    for (const auto& k : f.keys()) tensors.emplace(k, f.tensor(k).clone());
    save_safetensors(path, tensors, f.metadata(), Checksums::none);
    EXPECT_FALSE(SafetensorsFile(path).has_checksums());
  }
  std::vector<std::string> warnings;
  EXPECT_EQ(latest(warnings), paths.model);
  EXPECT_TRUE(warnings.empty());
  StateRun fresh(9);
  train::load_checkpoint(paths.model, fresh.params, *fresh.opt);
  EXPECT_TRUE(same_values(run.params, fresh.params));
}

// A full disk (here: a file-size limit, so write() fails with EFBIG) stops the save with an error naming
// the file; the earlier checkpoint stays the latest and loads; no temporary or half-written files remain.
TEST_F(TrainState, AFullDiskKeepsThePreviousCheckpoint) {
  StateRun run(1);
  run.step(1);
  const auto p1 = run.save(dir_, 1);
  const auto before = listing();
  run.step(2);
  {
    const test::FileSizeLimit limit(512);
    EXPECT_THROW_MSG(run.save(dir_, 2), "write failed writing " + train::checkpoint_paths(dir_.string(), 2).state);
  }
  EXPECT_EQ(listing(), before);
  std::vector<std::string> warnings;
  EXPECT_EQ(latest(warnings), p1.model);
  EXPECT_TRUE(warnings.empty());
  StateRun fresh(9);
  EXPECT_EQ(train::load_checkpoint(p1.model, fresh.params, *fresh.opt).at("step"), "1");
}

// When the model file cannot be written after its state file was, the state file goes too: no step is left
// half written.
TEST_F(TrainState, AFailedModelWriteRemovesItsStateFile) {
  StateRun run(1);
  run.step(1);
  const auto p2 = train::checkpoint_paths(dir_.string(), 2);
  fs::create_directories(fs::path(p2.model) / "in_the_way");  // rename() cannot replace a directory
  EXPECT_THROW_MSG(run.save(dir_, 2), "rename failed writing " + p2.model);
  EXPECT_EQ(listing(), std::vector<std::string>{"step_000002.safetensors"});  // the directory only
}
