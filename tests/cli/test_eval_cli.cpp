// evaclip-zeroshot, evaclip-retrieval and evaclip-features (--images / --texts) end to end on the tiny data
// set in tests/data/eval, against what the official EVA-CLIP model computes on it
// (tools/make_eval_fixtures.py: float64, torchvision's eval transform, the official tokenizer; metrics
// by numpy / scikit-learn). The model is tests/data/models/eva02_tiny with its token embedding widened to
// the real vocabulary (row r = row r % 100), rebuilt here exactly as the tool built it. Checked: the
// metrics in the JSON equal the reference's exactly (every decision there has a margin far above the
// float32 error), the dumped embeddings and logits are within float32 error of the reference, the JSON's
// structure, 16-bit precisions, and one-line errors with a non-zero exit for every bad input.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/test_util.hpp"

using namespace evaclip;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kEval = test::data_path("eval/");

struct Result {
  int rc;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path work_dir() {  // per process: ctest runs the tests of this binary in parallel
  static const fs::path d = [] {
    fs::path p = fs::path(::testing::TempDir()) / ("evaclip_eval_cli_" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string tmp(const std::string& name) { return (work_dir() / name).string(); }

// `env` goes before the command (e.g. "EVACLIP_CACHE=/x"). One thread: these models are tiny.
Result run(const char* bin, const std::string& args, const std::string& env = "") {
  const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string out = tmp(test + ".stdout"), err = tmp(test + ".stderr");
  const std::string cmd = "OMP_NUM_THREADS=1 " + env + " '" + bin + "' " + args + " > '" + out + "' 2> '" + err + "'";
  const int status = std::system(cmd.c_str());
  return {status, slurp(out), slurp(err)};
}

// --config/--weights of eva02_tiny with a 49408-row token embedding.
const std::string& model_args() {
  static const std::string args = [] {
    const std::string src = test::data_path("models/eva02_tiny/");
    const SafetensorsFile f(src + "weights.safetensors");
    std::map<std::string, Tensor> weights;
    for (const std::string& key : f.keys()) weights.emplace(key, f.tensor(key));
    const Tensor small = f.tensor("text.token_embedding.weight", DType::f32).contiguous();  // (100, W)
    const std::int64_t rows = small.shape()[0], w = small.shape()[1];
    Tensor wide = Tensor::empty({49408, w}, DType::f32);
    for (std::int64_t r = 0; r < 49408; ++r)
      std::memcpy(wide.data<float>() + r * w, small.data<float>() + (r % rows) * w, std::size_t(w) * sizeof(float));
    weights["text.token_embedding.weight"] = wide;
    save_safetensors(tmp("weights.safetensors"), weights);
    json cfg = json::parse(slurp(src + "config.json"));
    cfg["text_cfg"]["vocab_size"] = 49408;
    std::ofstream(tmp("config.json")) << cfg.dump(2);
    return "--config '" + tmp("config.json") + "' --weights '" + tmp("weights.safetensors") + "'";
  }();
  return args;
}

const SafetensorsFile& expected() {
  static const SafetensorsFile f(kEval + "e2e_expected.safetensors");
  return f;
}
const json& expected_metrics() {
  static const json j = json::parse(slurp(kEval + "e2e_expected.json"));
  return j;
}

std::string zeroshot_args(const std::string& data, const std::string& name) {
  return model_args() + " --data '" + data + "' --classnames " + kEval + "classnames.txt --templates " + kEval +
         "templates.txt --out " + tmp(name + ".json") + " --dump " + tmp(name + ".safetensors");
}

void expect_zeroshot_json(const json& got, const json& want, std::int64_t samples) {
  EXPECT_EQ(got["task"], "zero-shot classification");
  EXPECT_EQ(got["samples"], samples);
  EXPECT_EQ(got["classes"], 4);
  EXPECT_EQ(got["templates_per_class"], 3);
  EXPECT_EQ(got["logit_scale"], 100.0);
  for (const char* key : {"top1", "top5", "mean_per_class_top1", "mean_per_class_top5"})
    EXPECT_EQ(got[key].get<double>(), want[key].get<double>()) << key;
  ASSERT_EQ(got["per_class"].size(), 4u);
  const char* names[] = {"red square", "green circle", "blue stripes", "empty class"};
  for (std::size_t c = 0; c < 4; ++c) {
    const json& e = got["per_class"][c];
    EXPECT_EQ(e["class"], names[c]);
    EXPECT_EQ(e["samples"], want["class_count"][c]);
    EXPECT_EQ(e["top1"], want["per_class_top1"][c]) << c;  // null for the class without images
    EXPECT_EQ(e["top5"], want["per_class_top5"][c]) << c;
  }
  EXPECT_GT(got["images_per_second"].get<double>(), 0);
}

void expect_dump_close(const std::string& dump, const std::string& prefix) {
  const SafetensorsFile d(dump);
  EXPECT_TRUE(test::allclose(expected().tensor(prefix + ".image_embeddings"), d.tensor("image_embeddings", DType::f64),
                             1e-5, 0));
  EXPECT_TRUE(test::allclose(expected().tensor("classifier"), d.tensor("classifier", DType::f64), 1e-5, 0));
  EXPECT_TRUE(test::allclose(expected().tensor(prefix + ".logits"), d.tensor("logits", DType::f64), 1e-3, 0));
  EXPECT_TRUE(test::allclose(expected().tensor(prefix + ".labels", DType::f64), d.tensor("labels", DType::f64), 0, 0));
}

}  // namespace

TEST(ZeroShotCli, ImageFolderMatchesTheOfficialModel) {
  // Batch 4 over 10 images: the last batch is short.
  const Result r = run(EVACLIP_ZEROSHOT_BIN, zeroshot_args(kEval + "images", "folder") + " --batch-size 4");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  EXPECT_NE(r.out.find("top-1 60.00%"), std::string::npos) << r.out;
  expect_zeroshot_json(json::parse(slurp(tmp("folder.json"))), expected_metrics()["zeroshot_folder"], 10);
  expect_dump_close(tmp("folder.safetensors"), "zeroshot_folder");
}

TEST(ZeroShotCli, CsvMatchesTheOfficialModel) {
  const Result r = run(EVACLIP_ZEROSHOT_BIN, zeroshot_args(kEval + "labels.csv", "csv"));
  ASSERT_EQ(r.rc, 0) << r.err;
  expect_zeroshot_json(json::parse(slurp(tmp("csv.json"))), expected_metrics()["zeroshot_csv"], 7);
  expect_dump_close(tmp("csv.safetensors"), "zeroshot_csv");
}

TEST(ZeroShotCli, SixteenBitPrecisionsRun) {
  for (const char* precision : {"bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    const std::string name = std::string("p_") + precision;
    const Result r = run(EVACLIP_ZEROSHOT_BIN, zeroshot_args(kEval + "images", name) + " --precision " + precision);
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(json::parse(slurp(tmp(name + ".json")))["precision"], precision);
    // 16-bit weights and activations: embeddings within a few 16-bit roundings of the fp64 reference.
    const SafetensorsFile d(tmp(name + ".safetensors"));
    EXPECT_TRUE(test::allclose(expected().tensor("zeroshot_folder.image_embeddings"),
                               d.tensor("image_embeddings", DType::f64), 0.05, 0));
  }
}

TEST(RetrievalCli, MatchesTheOfficialModel) {
  const Result r =
      run(EVACLIP_RETRIEVAL_BIN, model_args() + " --data " + kEval + "retrieval.csv --out " + tmp("ret.json") +
                                     " --dump " + tmp("ret.safetensors") + " --batch-size 4");
  ASSERT_EQ(r.rc, 0) << r.err;
  const json got = json::parse(slurp(tmp("ret.json"))), want = expected_metrics()["retrieval"];
  EXPECT_EQ(got["task"], "zero-shot retrieval");
  EXPECT_EQ(got["images"], 10);
  EXPECT_EQ(got["captions"], 15);
  for (const char* dir : {"text_to_image", "image_to_text"})
    for (const char* k : {"R@1", "R@5", "R@10"})
      EXPECT_EQ(got[dir][k].get<double>(), want[dir][k].get<double>()) << dir << k;
  const SafetensorsFile d(tmp("ret.safetensors"));
  EXPECT_TRUE(test::allclose(expected().tensor("retrieval.image_embeddings"), d.tensor("image_embeddings", DType::f64),
                             1e-5, 0));
  EXPECT_TRUE(
      test::allclose(expected().tensor("retrieval.text_embeddings"), d.tensor("text_embeddings", DType::f64), 1e-5, 0));
  EXPECT_TRUE(test::allclose(expected().tensor("retrieval.caption_image", DType::f64),
                             d.tensor("caption_image", DType::f64), 0, 0));
}

TEST(EmbeddingsCli, ImagesAndTextsLikeTheOfficialModel) {
  const std::string out = tmp("emb.safetensors");
  const Result r = run(EVACLIP_FEATURES_BIN, model_args() + " --images " + kEval + "images --texts " + kEval +
                                                 "texts.txt --out " + out + " --batch-size 3");
  ASSERT_EQ(r.rc, 0) << r.err;
  const SafetensorsFile got(out);
  EXPECT_EQ(got.keys(), (std::vector<std::string>{"image_embeddings", "text_embeddings"}));
  EXPECT_TRUE(test::allclose(expected().tensor("features.image_embeddings"), got.tensor("image_embeddings", DType::f64),
                             1e-5, 0));
  EXPECT_TRUE(test::allclose(expected().tensor("features.text_embeddings"), got.tensor("text_embeddings", DType::f64),
                             1e-5, 0));

  // .npy (same batches, so the same bits): the matrix after numpy's 128-byte header for a 2-d float32 array.
  const std::string npy = tmp("texts.npy");
  const Result t =
      run(EVACLIP_FEATURES_BIN, model_args() + " --texts " + kEval + "texts.txt --out " + npy + " --batch-size 3");
  ASSERT_EQ(t.rc, 0) << t.err;
  const std::string bytes = slurp(npy);
  const Tensor texts = got.tensor("text_embeddings");
  ASSERT_EQ(bytes.size(), 128 + texts.nbytes());
  const std::string header =
      std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 16), }";
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  EXPECT_EQ(std::memcmp(bytes.data() + 128, texts.raw(), texts.nbytes()), 0);
}

TEST(EvalCli, BadInputsGiveOneLineErrors) {
  // A copy of the image folder without one class folder, one with an undecodable image, one with no images.
  const fs::path missing = work_dir() / "missing_class", broken = work_dir() / "broken", empty = work_dir() / "empty";
  for (const fs::path& d : {missing, broken, empty}) fs::remove_all(d);
  fs::copy(kEval + "images", missing, fs::copy_options::recursive);
  fs::remove_all(missing / "b_green");
  fs::copy(kEval + "images", broken, fs::copy_options::recursive);
  std::ofstream(broken / "c_blue" / "1.png", std::ios::binary | std::ios::trunc) << "\x89PNG\r\n\x1a\n truncated";
  for (const char* c : {"a", "b", "c", "d"}) fs::create_directories(empty / c);
  const fs::path no_cache = work_dir() / "no_cache";
  fs::create_directories(no_cache);
  std::ofstream(tmp("bad_label.csv")) << "filepath,label\n" << kEval << "images/a_red/0.png,9\n";

  const std::string names = " --classnames " + kEval + "classnames.txt --templates " + kEval + "templates.txt";
  const std::string zs = model_args() + names + " --out " + tmp("err.json") + " --data ";
  const std::string ret = model_args() + " --out " + tmp("err.json") + " --data ";
  struct Case {
    const char* bin;
    std::string args, msg, env;
  };
  const Case cases[] = {
      {EVACLIP_ZEROSHOT_BIN, zs + missing.string(), "3 class sub-folders, but 4 class names", ""},
      {EVACLIP_ZEROSHOT_BIN, zs + empty.string(), "no images in its 4 class folders", ""},
      {EVACLIP_ZEROSHOT_BIN, zs + broken.string(), "image " + (broken / "c_blue" / "1.png").string() + ": corrupt", ""},
      {EVACLIP_ZEROSHOT_BIN, zs + tmp("nowhere"), "--data " + tmp("nowhere") + ": no such file or folder", ""},
      {EVACLIP_ZEROSHOT_BIN, zs + tmp("bad_label.csv"), "bad_label.csv:2: label '9' is not a class index 0..3", ""},
      {EVACLIP_ZEROSHOT_BIN,
       model_args() + " --classnames imagenet --templates openai --out x.json --data " + kEval + "images",
       "imagenet_classnames.txt not found; run tools/fetch_assets.py", "EVACLIP_CACHE=" + no_cache.string()},
      {EVACLIP_ZEROSHOT_BIN, zs + kEval + "images", "cannot open vocabulary", "EVACLIP_CACHE=" + no_cache.string()},
      {EVACLIP_RETRIEVAL_BIN, ret + kEval + "labels.csv", "no column 'title'", ""},
      {EVACLIP_RETRIEVAL_BIN, ret + tmp("bad_label.csv") + " --caption-column label --image-column nope",
       "no column 'nope'", ""},
      {EVACLIP_FEATURES_BIN, model_args() + " --images " + kEval + "images --texts " + kEval + "texts.txt --out x.npy",
       "a .npy file holds one matrix", ""},
      {EVACLIP_FEATURES_BIN, model_args() + " --images " + broken.string() + " --out " + tmp("err.safetensors"),
       "image " + (broken / "c_blue" / "1.png").string() + ": corrupt", ""},
      {EVACLIP_FEATURES_BIN, model_args() + " --out " + tmp("err.safetensors"),
       "give --images and/or --texts, or --inputs", ""},
  };
  std::vector<Case> all(std::begin(cases), std::end(cases));
  if (!cuda_available())  // with a device, --device cuda is no error
    all.push_back({EVACLIP_ZEROSHOT_BIN, zs + kEval + "images --device cuda", "--device cuda: ", ""});
  for (const Case& c : all) {
    SCOPED_TRACE(c.args);
    const Result r = run(c.bin, c.args, c.env);
    EXPECT_NE(r.rc, 0);
    EXPECT_NE(r.err.find(c.msg), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(tmp("err.json")));
  EXPECT_FALSE(fs::exists(tmp("err.safetensors")));
}
