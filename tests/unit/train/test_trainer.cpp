// Tests of the training loop (include/evaclip/train/trainer.hpp) on a tiny EVA02 model and the synthetic
// data set written as real files: exact resume, loss-scale skipping, the loss going down, crash-safe
// checkpoints, resuming past a damaged checkpoint, a full disk, and the log's resume semantics.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/file_size_limit.hpp"
#include "common/temp_dir.hpp"
#include "common/test_util.hpp"
#include "evaclip/data/synthetic_shapes.hpp"
#include "evaclip/train/trainer.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {

// A fresh folder with a small synthetic data set (written once per test binary) for the tiny EVA02 model of
// tests/data/train/tiny_model.json (patch dropout 0.5 and drop path 0.1, so the Rng matters).
struct Fixture {
  fs::path root;
  std::string config, tsv;
  Fixture() {
    root = fs::path(::testing::TempDir()) / ("evaclip_trainer_" + std::to_string(::getpid()));
    fs::create_directories(root);
    config = test::data_path("train/tiny_model.json");
    data::SyntheticSpec spec;
    spec.train_images = 64, spec.test_per_class = 1, spec.image_size = 20;
    tsv = data::write_synthetic_shapes((root / "data").string(), spec).train_tsv;
  }
  ~Fixture() { fs::remove_all(root); }
};
const Fixture& fixture() {
  static const Fixture f;
  return f;
}

train::TrainOptions tiny_options(const std::string& name, const std::string& precision = "fp32") {
  train::TrainOptions o;
  o.model = fixture().config;
  o.train_data = fixture().tsv;
  o.batch_size = 8, o.steps = 10, o.warmup = 2, o.workers = 2;
  o.lr = 1e-2, o.visual_ld = 0.8;
  o.precision = precision;
  o.logs = (fixture().root / "runs").string(), o.name = name;
  o.save_frequency = 0, o.quiet = true;
  return o;
}

std::map<std::string, Tensor> weights_of(const std::string& checkpoint) { return load_safetensors(checkpoint); }

void expect_bit_identical(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, t] : a) {
    ASSERT_TRUE(b.count(k)) << k;
    const Tensor& u = b.at(k);
    ASSERT_EQ(t.shape(), u.shape()) << k;
    ASSERT_EQ(t.dtype(), u.dtype()) << k;
    EXPECT_EQ(0, std::memcmp(t.raw(), u.raw(), std::size_t(t.numel()) * dtype_size(t.dtype()))) << k;
  }
}

std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

// N steps in one run == k steps, a checkpoint, a resume in a new run and N - k more steps, bit for bit,
// with patch dropout and drop path drawing from the checkpointed Rng and the loader resuming mid-epoch.
class ExactResume : public ::testing::TestWithParam<std::string> {};

TEST_P(ExactResume, SplitRunEqualsOneRun) {
  const std::string prec = GetParam();
  const train::TrainResult whole = train::train(tiny_options("whole_" + prec, prec));
  EXPECT_EQ(whole.step, 10);

  train::TrainOptions first = tiny_options("split_" + prec, prec);
  first.stop_at = 5;  // mid-epoch (8 steps per epoch), after the warm-up; the rest crosses the epoch boundary
  const train::TrainResult part = train::train(first);
  EXPECT_EQ(part.step, 5);
  train::TrainOptions second = tiny_options("split_" + prec, prec);
  second.resume = "latest";
  const train::TrainResult rest = train::train(second);
  EXPECT_EQ(rest.step, 10);

  expect_bit_identical(weights_of(whole.checkpoint), weights_of(rest.checkpoint));
  expect_bit_identical(load_safetensors(train::state_path_for(whole.checkpoint)),
                       load_safetensors(train::state_path_for(rest.checkpoint)));
  // The log of the split run reads as one run with the same losses.
  const auto a = read_log(whole.log), b = read_log(rest.log);
  ASSERT_EQ(a.size(), 10u);
  ASSERT_EQ(b.size(), 10u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["step"], b[i]["step"]);
    EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << "step " << i + 1;
  }
}
INSTANTIATE_TEST_SUITE_P(Precisions, ExactResume, ::testing::Values("fp32", "bf16", "fp16"));

TEST(Trainer, SameSeedSameRunDifferentSeedDifferentRun) {
  const auto a = train::train(tiny_options("seed_a"));
  const auto b = train::train(tiny_options("seed_b"));
  expect_bit_identical(weights_of(a.checkpoint), weights_of(b.checkpoint));
  train::TrainOptions o = tiny_options("seed_c");
  o.seed = 7;
  const auto c = weights_of(train::train(o).checkpoint);
  const auto wa = weights_of(a.checkpoint);
  EXPECT_FALSE(test::allclose(wa.at("visual.head.weight"), c.at("visual.head.weight"), 0, 0));
}

// An fp16 loss scale so large that the scaled gradients overflow: every step is skipped, the weights stay
// at their initial values, the scale backs off as the dynamic strategy says; then normal steps apply.
TEST(Trainer, Fp16OverflowSkipsSteps) {
  train::TrainOptions o = tiny_options("overflow", "fp16");
  o.steps = 3, o.initial_scale_power = 120;
  const auto r = train::train(o);
  EXPECT_EQ(r.skipped_steps, 3);
  const auto log = read_log(r.log);
  ASSERT_EQ(log.size(), 3u);
  for (const auto& rec : log) EXPECT_TRUE(rec["step_skipped"].get<bool>());
  // DeepSpeed's hysteresis 2: the first overflow keeps the scale, the second halves it.
  EXPECT_EQ(log[0]["loss_scale"].get<double>(), std::ldexp(1.0, 120));
  EXPECT_EQ(log[1]["loss_scale"].get<double>(), std::ldexp(1.0, 120));
  EXPECT_EQ(log[2]["loss_scale"].get<double>(), std::ldexp(1.0, 119));

  // The untouched weights are the initialisation: a run of zero effective steps from the same seed.
  train::TrainOptions ref = tiny_options("overflow_ref", "fp16");
  ref.steps = 1, ref.lr = 0.0, ref.wd = 0.0;
  expect_bit_identical(weights_of(r.checkpoint), weights_of(train::train(ref).checkpoint));

  // With a scale the fp16 activation gradients can hold, every step applies. (This tiny model's features
  // start near 1e-4, the recipe's head init, so L2-normalisation's backward multiplies by ~1/|f| and even
  // 2^6 overflows fp16; the dynamic scale would back off to it, skipping steps as DeepSpeed's runs do.)
  train::TrainOptions ok = tiny_options("no_overflow", "fp16");
  ok.steps = 2, ok.initial_scale_power = 0;
  const auto applied = train::train(ok);
  EXPECT_EQ(applied.skipped_steps, 0);
  EXPECT_FALSE(test::allclose(weights_of(r.checkpoint).at("visual.head.weight"),
                              weights_of(applied.checkpoint).at("visual.head.weight"), 0, 0));
}

// A few steps on one fixed batch reduce the loss (the optimiser, the model and the loss work together).
TEST(Trainer, LossFallsOnAFixedBatch) {
  const nn::ModelConfig cfg = train::resolve_model(fixture().config);
  nn::ParamInit init = nn::ParamInit::for_policy<fp32>(1);
  const nn::Clip<nn::Eva02Block> model(init, cfg.clip);
  const nn::ParamList params = model.params();
  train::GroupSettings gs;
  gs.visual_lr = gs.text_lr = gs.other_lr = 5e-3;
  gs.visual_layers = cfg.clip.vision.layers, gs.text_layers = cfg.clip.text.layers;
  auto opt = train::make_optimizer("lamb", train::make_param_groups(params, gs));
  const Tensor images = test::randn({8, 3, 16, 16}, DType::f32, 3);
  Tensor ids = Tensor::zeros({8, 12}, DType::i64);
  for (std::int64_t i = 0; i < 8; ++i) {
    auto* row = ids.data<std::int64_t>() + i * 12;
    row[0] = 49406, row[1] = 100 + i, row[2] = 49407;  // <sot> a distinct token <eot>
  }
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    Tape<fp32> tape;
    const Var loss = model.forward(tape, Var(images), ids).loss;
    tape.backward(loss);
    opt->step(1.0);
    for (const auto& p : params) p.var.zero_grad();
    (step == 0 ? first : last) = loss.value().item();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << ", last " << last;
}

// A writer killed in the middle of checkpointing never damages the checkpoint already on disk: the files
// always load and hold either the old or a new complete checkpoint.
TEST(Trainer, KilledCheckpointWriteLeavesACompleteCheckpoint) {
  const fs::path dir = fixture().root / "kill";
  nn::ParamInit init = nn::ParamInit::for_policy<fp32>(1);
  const nn::Clip<nn::Eva02Block> model(init, train::resolve_model(fixture().config).clip);
  const nn::ParamList params = model.params();
  train::GroupSettings gs;
  gs.visual_layers = 2, gs.text_layers = 1;
  auto opt = train::make_optimizer("adamw", train::make_param_groups(params, gs));
  const auto paths = train::save_checkpoint(dir.string(), params, *opt, {{"step", "5"}, {"version", "0"}});
  const auto before = weights_of(paths.model);

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // rewrite the same checkpoint with other values, forever
    for (int v = 1;; ++v) {
      for (const auto& p : params) p.var.assign(Tensor::full(p.var.shape(), DType::f32, double(v)));
      train::save_checkpoint(dir.string(), params, *opt, {{"step", "5"}, {"version", std::to_string(v)}});
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);

  const auto after = weights_of(paths.model);  // loads: the header and every tensor are whole
  ASSERT_EQ(after.size(), before.size());
  const Tensor& w = after.at("visual.head.weight");
  const bool old = test::allclose(before.at("visual.head.weight"), w, 0, 0);
  const double v = w.to(DType::f64).data<double>()[0];
  EXPECT_TRUE(old || test::allclose(Tensor::full(w.shape(), DType::f32, v), w, 0, 0))
      << "the model file mixes two checkpoints";
  EXPECT_EQ(train::find_latest_checkpoint(dir.string()), paths.model);
}

TEST(Trainer, LogResumeDropsRecordsAfterTheCheckpoint) {
  const std::string path = (fixture().root / "log.jsonl").string();
  std::ofstream(path) << "{\"step\": 1}\n{\"step\": 2}\n{\"step\": 3}\n{\"step\": 4, \"lo";  // torn last line
  {
    train::TrainLog log(path, 2);
    log.write({{"step", 3}, {"loss", 1.5}});
  }
  const auto recs = read_log(path);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1]["step"], 2);
  EXPECT_EQ(recs[2]["loss"], 1.5);
}

TEST(Trainer, BadOptionsGiveOneLineErrors) {
  train::TrainOptions o = tiny_options("bad");
  o.train_data = (fixture().root / "missing.tsv").string();
  EXPECT_THROW_MSG(train::train(o), "missing.tsv");
  o = tiny_options("bad");
  o.model = "EVA03-CLIP-Z-99";
  EXPECT_THROW_MSG(train::train(o), "EVA03-CLIP-Z-99");
  o = tiny_options("bad");
  o.device = "cuda";
  EXPECT_THROW_MSG(train::train(o), "not built yet");
  o = tiny_options("bad");
  o.resume = "latest";
  o.name = "never_ran";
  EXPECT_THROW_MSG(train::train(o), "no checkpoint");
}

// --resume latest with a damaged newest checkpoint warns in one line, resumes from the one before, and the
// run still ends bit-identical to an uninterrupted one.
TEST(Trainer, ResumeLatestSkipsADamagedNewestCheckpoint) {
  train::TrainOptions first = tiny_options("damaged");
  first.stop_at = 6, first.save_steps = 3;
  const std::string newest = train::train(first).checkpoint;
  test::flip_byte(newest, fs::file_size(newest) / 2, 0x01);  // in the tensor data
  train::TrainOptions second = tiny_options("damaged");
  second.resume = "latest";
  ::testing::internal::CaptureStderr();
  const train::TrainResult rest = train::train(second);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(rest.step, 10);
  EXPECT_EQ(err.rfind("skipping checkpoint " + newest + ": safetensors: " + newest + ": tensor '", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  expect_bit_identical(weights_of(train::train(tiny_options("damaged_whole")).checkpoint), weights_of(rest.checkpoint));
}

// A checkpoint write that fails (a file-size limit: write() fails with EFBIG, as on a full disk) stops the
// run with an error naming the file; the previous checkpoint stays, no temporary file is left, and resuming
// from it ends bit-identical to an uninterrupted run.
TEST(Trainer, AFullDiskStopsTrainingAndKeepsThePreviousCheckpoint) {
  train::TrainOptions o = tiny_options("full_disk");
  o.stop_at = 3, o.save_steps = 3;
  train::train(o);
  o.stop_at = 0, o.resume = "latest";
  {
    const test::FileSizeLimit limit(1 << 20);  // the log fits, the 6 MB checkpoint does not
    EXPECT_THROW_MSG(train::train(o), "write failed writing " + train::checkpoint_paths(o.checkpoint_dir(), 6).state);
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(o.checkpoint_dir())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"step_000003.safetensors", "step_000003.state.safetensors"}));
  const train::TrainResult rest = train::train(o);
  EXPECT_EQ(rest.step, 10);
  expect_bit_identical(weights_of(train::train(tiny_options("full_disk_whole")).checkpoint),
                       weights_of(rest.checkpoint));
}

// A log write that fails stops the run with an error naming the log file.
TEST(Trainer, AFailedLogWriteStopsTraining) {
  const train::TrainOptions o = tiny_options("full_log");
  const test::FileSizeLimit limit(1000);  // two or three records
  EXPECT_THROW_MSG(train::train(o), "train log " + o.log_path() + ": write failed: File too large");
}
