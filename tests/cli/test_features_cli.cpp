// evaclip-features end to end (label parity): the built program on every fixture in tests/data/models, in
// fp32 and fp64 with --grads, against the official model's expected.safetensors, relative to each tensor's
// largest magnitude: 1e-4 on features, logits and loss, 1e-3 on gradients (the output is float32).
// Also: one-tower inputs, and one-line errors with a non-zero exit.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_util.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {

const std::string kData = test::data_path("models/");

struct Result {
  int rc;
  std::string err;  // stderr
};

Result run_features(const std::string& args) {
  // Per test: ctest runs the tests of this binary in parallel.
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const fs::path err = fs::path(::testing::TempDir()) / ("evaclip_features_" + test + ".stderr");
  // One thread: on models this tiny more only add start-up and, on a busy machine, spin-waiting.
  const std::string cmd =
      std::string("OMP_NUM_THREADS=1 '") + EVACLIP_FEATURES_BIN + "' " + args + " 2> '" + err.string() + "'";
  const int status = std::system(cmd.c_str());
  std::ifstream in(err);
  std::stringstream ss;
  ss << in.rdbuf();
  return {status, ss.str()};
}

std::string fixture_args(const std::string& name, const std::string& out) {
  const std::string d = kData + name + "/";
  return "--config " + d + "config.json --weights " + d + "weights.safetensors --out " + out;
}

std::string tmp(const std::string& file) { return (fs::path(::testing::TempDir()) / file).string(); }

// max |a - b| / max |a|
double rel_err(const Tensor& ref, const Tensor& got) {
  EXPECT_EQ(ref.shape(), got.shape());
  const auto a = ref.to_vector(), b = got.to_vector();
  double scale = 0, err = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, std::abs(a[i]));
    err = std::max(err, std::abs(a[i] - b[i]));
  }
  return scale > 0 ? err / scale : err;
}

const char* kFixtures[] = {"eva01_tiny", "eva01_ls_tiny", "eva02_tiny", "eva02_tiny_interp", "eva02e_tiny"};

}  // namespace

TEST(FeaturesCli, MatchesTheOfficialModelOnEveryFixture) {
  for (const char* name : kFixtures)
    for (const char* precision : {"fp32", "fp64"}) {
      SCOPED_TRACE(std::string(name) + " " + precision);
      const std::string out = tmp(std::string(name) + "_" + precision + ".safetensors");
      const Result r = run_features(fixture_args(name, out) + " --inputs " + kData + name +
                                    "/inputs.safetensors --grads --precision " + precision);
      ASSERT_EQ(r.rc, 0) << r.err;
      const SafetensorsFile got(out), expected(kData + name + "/expected.safetensors");
      std::size_t grads = 0;
      for (const std::string& key : got.keys()) {
        EXPECT_EQ(got.entry(key).dtype, DType::f32) << key;
        ASSERT_TRUE(expected.contains(key)) << key;
        const bool grad = key.rfind("grad.", 0) == 0;
        grads += grad;
        EXPECT_LT(rel_err(expected.tensor(key), got.tensor(key)), grad ? 1e-3 : 1e-4) << key;
      }
      for (const char* key : {"image_features", "text_features", "logit_scale", "logits_per_image", "loss"})
        EXPECT_TRUE(got.contains(key)) << key;
      std::size_t expected_grads = 0;
      for (const std::string& key : expected.keys()) expected_grads += key.rfind("grad.", 0) == 0;
      EXPECT_EQ(grads, expected_grads);
    }
}

TEST(FeaturesCli, OneTowerInputsGiveThatTowerOnly) {
  const SafetensorsFile inputs(kData + "eva02_tiny/inputs.safetensors");
  const std::string images_only = tmp("images_only.safetensors"), out = tmp("images_only_out.safetensors");
  save_safetensors(images_only, {{"pixel_values", inputs.tensor("pixel_values")}});
  const Result r = run_features(fixture_args("eva02_tiny", out) + " --inputs " + images_only + " --precision fp64");
  ASSERT_EQ(r.rc, 0) << r.err;
  const SafetensorsFile got(out), expected(kData + "eva02_tiny/expected.safetensors");
  EXPECT_EQ(got.keys(), (std::vector<std::string>{"image_features", "logit_scale"}));
  EXPECT_LT(rel_err(expected.tensor("image_features"), got.tensor("image_features")), 1e-6);

  const std::string ids_only = tmp("ids_only.safetensors");
  save_safetensors(ids_only, {{"input_ids", inputs.tensor("input_ids").to(DType::i32)}});
  const Result t = run_features(fixture_args("eva02_tiny", out) + " --inputs " + ids_only + " --precision fp64");
  ASSERT_EQ(t.rc, 0) << t.err;
  const SafetensorsFile got_text(out);
  EXPECT_EQ(got_text.keys(), (std::vector<std::string>{"logit_scale", "text_features"}));
  EXPECT_LT(rel_err(expected.tensor("text_features"), got_text.tensor("text_features")), 1e-6);

  const Result g = run_features(fixture_args("eva02_tiny", out) + " --inputs " + images_only + " --grads");
  EXPECT_NE(g.rc, 0);
  EXPECT_NE(g.err.find("--grads needs the loss"), std::string::npos) << g.err;
}

TEST(FeaturesCli, ErrorsAreOneLineAndNonZero) {
  const std::string out = tmp("error_out.safetensors"), in = kData + "eva02_tiny/inputs.safetensors";
  const std::string eva02 = kData + "eva02_tiny/";
  std::vector<std::pair<std::string, std::string>> cases = {
      {fixture_args("eva02_tiny", out) + " --inputs " + eva02 + "weights.safetensors", "holds neither pixel_values nor input_ids"},
      {fixture_args("eva02_tiny", out) + " --inputs " + kData + "eva01_tiny/inputs.safetensors", "do not fit the model"},
      {"--config " + kData + "eva01_tiny/config.json --weights " + eva02 + "weights.safetensors --out " + out +
           " --inputs " + in, "does not fit the model"},
      {"--model EVA02-CLIP-Z --weights " + eva02 + "weights.safetensors --out " + out + " --inputs " + in,
       "unknown model \"EVA02-CLIP-Z\" (valid: EVA01-CLIP-B-16"},
  };
  if (!cuda_available())  // with a device, --device cuda is no error
    cases.push_back({fixture_args("eva02_tiny", out) + " --inputs " + in + " --device cuda", "--device cuda: "});
  for (const auto& [args, msg] : cases) {
    SCOPED_TRACE(args);
    const Result r = run_features(args);
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find(msg), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(out));
}
