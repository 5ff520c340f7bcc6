// EVA-CLIP's initialisation from pretrained towers (nn/pretrained.hpp) against tests/data/pretrained, written by
// tools/make_pretrained_fixtures.py: a tiny EVA-02 MIM tower built by the official MIM class at patch 14 (grid 8)
// loaded into a patch-16 EVA02-CLIP model (grid 7), as EVA02_B_psz14 initialises EVA02-CLIP-B-16; the same weights
// in timm's layout; one text tower in the OpenAI and OpenCLIP layouts; and the official
// create_model(pretrained_image=, pretrained_text=, skip_list=) path's float64 features and missing keys.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/test_util.hpp"
#include "evaclip/nn/model_config.hpp"
#include "evaclip/nn/pretrained.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

const std::string kPretrainedDir = test::data_path("pretrained/");
const std::string kMim = kPretrainedDir + "mim_official.safetensors";

// A fresh fp64 model of the fixture config; every instance with the same seed starts identical.
struct Model {
  ModelConfig cfg = read_model_config(kPretrainedDir + "config.json");
  ParamInit init{DType::f64, DType::f64, 7};
  Clip<Eva02Block> clip{init, cfg.clip};
  ParamList params = clip.params(TextKeys::prefixed);

  const Var& operator[](const std::string& name) const {
    for (const auto& p : params)
      if (p.name == name) return p.var;
    throw std::runtime_error("no parameter " + name);
  }
  PretrainedReport image(const std::string& file, const std::vector<std::string>& skip = default_skip_list()) {
    return load_pretrained_image(params, cfg.clip.vision, file, skip);
  }
  PretrainedReport text(const std::string& file, const std::vector<std::string>& skip = default_skip_list()) {
    return load_pretrained_text(params, file, skip);
  }
};

std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

std::set<std::string> with_prefix(const Model& m, const std::string& prefix) {
  std::set<std::string> out;
  for (const auto& p : m.params)
    if (p.name.rfind(prefix, 0) == 0) out.insert(p.name);
  return out;
}

std::set<std::string> minus(std::set<std::string> a, const std::set<std::string>& b) {
  for (const auto& x : b) a.erase(x);
  return a;
}

// Every parameter named in `names` is bit-identical in a and b.
void expect_same(const Model& a, const Model& b, const std::set<std::string>& names) {
  for (const auto& n : names) EXPECT_TRUE(test::allclose(a[n].value(), b[n].value(), 0, 0)) << n;
}

const std::set<std::string> kRopeTables = {"rope.freqs_cos",
                                           "rope.freqs_sin",
                                           "blocks.0.attn.rope.freqs_cos",
                                           "blocks.0.attn.rope.freqs_sin",
                                           "blocks.1.attn.rope.freqs_cos",
                                           "blocks.1.attn.rope.freqs_sin"};
const std::set<std::string> kSubLn = {
    "visual.blocks.0.attn.inner_attn_ln.weight", "visual.blocks.0.attn.inner_attn_ln.bias",
    "visual.blocks.1.attn.inner_attn_ln.weight", "visual.blocks.1.attn.inner_attn_ln.bias"};
const std::set<std::string> kHead = {"visual.head.weight", "visual.head.bias"};
const std::set<std::string> kResized = {"visual.pos_embed", "visual.patch_embed.proj.weight"};

}  // namespace

// The official MIM layout at patch 14 into the patch-16 model: the kernel and the pos grid are resampled exactly
// as torch's bicubic (computed by F.interpolate in float64 in the tool), every other tensor is copied unchanged,
// and what stays fresh is what the official loader reported missing.
TEST(Pretrained, OfficialMimLayoutIntoPatch16Model) {
  Model m;
  const Model fresh;
  const PretrainedReport rep = m.image(kMim);
  const SafetensorsFile file(kMim), ref(kPretrainedDir + "resize_ref.safetensors"),
      expected(kPretrainedDir + "expected.safetensors");

  const auto official_missing = nlohmann::json::parse(expected.metadata().at("visual_missing"));
  std::set<std::string> want_fresh;
  for (const auto& k : official_missing) want_fresh.insert("visual." + k.get<std::string>());
  EXPECT_EQ(want_fresh, minus(minus(with_prefix(m, "visual."), kResized), as_set(rep.loaded))) << rep.summary();
  EXPECT_TRUE(nlohmann::json::parse(expected.metadata().at("visual_unexpected")).empty());
  EXPECT_TRUE(rep.unexpected.empty()) << rep.summary();

  EXPECT_EQ(as_set(rep.missing), kSubLn);  // the MIM blocks have no sub-LN; the head is skip-listed
  EXPECT_EQ(as_set(rep.skipped), (std::set<std::string>{"visual.head.weight", "visual.head.bias", "lm_head.weight",
                                                        "lm_head.bias", "mask_token"}));
  EXPECT_EQ(as_set(rep.resized), kResized);
  EXPECT_EQ(as_set(rep.ignored), kRopeTables);
  EXPECT_EQ(as_set(rep.loaded), minus(minus(with_prefix(m, "visual."), kSubLn), kHead));

  for (const auto& name : rep.loaded) {
    const std::string key = name.substr(7);
    if (kResized.count(name)) EXPECT_TRUE(test::allclose(ref.tensor(key), m[name].value(), 1e-13, 1e-13)) << name;
    else EXPECT_TRUE(test::allclose(file.tensor(key, DType::f64), m[name].value(), 0, 0)) << name;
  }
  EXPECT_EQ(m["visual.patch_embed.proj.weight"].shape(), (Shape{16, 3, 16, 16}));
  EXPECT_EQ(m["visual.pos_embed"].shape(), (Shape{1, 50, 16}));
  expect_same(m, fresh, kSubLn);
  expect_same(m, fresh, kHead);
  expect_same(m, fresh, with_prefix(m, "text."));
  expect_same(m, fresh, {"logit_scale"});
  for (const auto& n : kSubLn)  // LayerNorm's identity init
    EXPECT_TRUE(test::allclose(Tensor::full({16}, DType::f64, n.ends_with("weight") ? 1.0 : 0.0), m[n].value(), 0, 0));
}

// timm's layout of the same weights (fc_norm, fc1_g/fc1_x/fc2, attn.norm, q_proj.bias; no lm_head, mask_token
// or RoPE tables: timm's checkpoint_filter_fn drops them) builds a bit-identical model.
TEST(Pretrained, TimmMimLayoutGivesTheSameModel) {
  Model a, b;
  const PretrainedReport ra = a.image(kMim), rb = b.image(kPretrainedDir + "mim_timm.safetensors");
  EXPECT_EQ(rb.loaded, ra.loaded);
  EXPECT_EQ(rb.resized, ra.resized);
  EXPECT_EQ(rb.missing, ra.missing);
  EXPECT_EQ(as_set(rb.skipped), kHead);
  EXPECT_TRUE(rb.unexpected.empty()) << rb.summary();
  EXPECT_TRUE(rb.ignored.empty()) << rb.summary();
  expect_same(a, b, with_prefix(a, ""));
}

// One text tower in OpenAI's layout (top level, with visual.*, logit_scale and OpenAI's scalar entries) and in an
// OpenCLIP CustomTextCLIP training checkpoint's (module.text.*): the same text tower, copied unchanged;
// text_projection (skip-listed) and the vision tower keep their fresh values.
TEST(Pretrained, TextTowerFromOpenAiAndOpenClipLayouts) {
  Model a, b;
  const Model fresh;
  const PretrainedReport ra = a.text(kPretrainedDir + "text_openai.safetensors");
  const PretrainedReport rb = b.text(kPretrainedDir + "text_openclip.safetensors");
  const SafetensorsFile openai(kPretrainedDir + "text_openai.safetensors");

  const auto text = with_prefix(a, "text.");
  EXPECT_EQ(as_set(ra.loaded), minus(text, {"text.text_projection"}));
  EXPECT_EQ(rb.loaded, ra.loaded);
  EXPECT_TRUE(ra.missing.empty() && rb.missing.empty());
  EXPECT_EQ(as_set(ra.skipped), (std::set<std::string>{"text.text_projection", "logit_scale"}));
  EXPECT_EQ(as_set(ra.unexpected), (std::set<std::string>{"context_length", "input_resolution", "vocab_size"}));
  EXPECT_EQ(as_set(ra.ignored),
            (std::set<std::string>{"visual.class_embedding", "visual.ln_post.weight", "visual.proj"}));
  EXPECT_EQ(as_set(rb.skipped), (std::set<std::string>{"text.text_projection"}));
  EXPECT_TRUE(rb.unexpected.empty()) << rb.summary();
  EXPECT_EQ(as_set(rb.ignored), (std::set<std::string>{"module.logit_scale", "module.visual.trunk.cls_token"}));

  for (const auto& name : ra.loaded)
    EXPECT_TRUE(test::allclose(openai.tensor(name.substr(5), DType::f64), a[name].value(), 0, 0)) << name;
  expect_same(a, b, with_prefix(a, ""));
  expect_same(a, fresh, {"text.text_projection", "logit_scale"});
  expect_same(a, fresh, with_prefix(a, "visual."));
}

// The skip list is the user's: without it the MIM file's head is simply absent (fresh) and its lm_head and
// mask_token are unexpected; with it, matched parameters stay fresh whichever name (ours or the file's) matches.
TEST(Pretrained, SkipListIsHonoured) {
  {
    Model m;
    const PretrainedReport rep = m.image(kMim, {});
    EXPECT_TRUE(rep.skipped.empty());
    std::set<std::string> fresh = kSubLn;
    fresh.insert(kHead.begin(), kHead.end());
    EXPECT_EQ(as_set(rep.missing), fresh);
    EXPECT_EQ(as_set(rep.unexpected), (std::set<std::string>{"lm_head.weight", "lm_head.bias", "mask_token"}));
  }
  {
    Model m;
    const Model fresh;
    const PretrainedReport rep = m.image(kMim, {"blocks.1.*", "norm.*"});
    auto kept = with_prefix(m, "visual.blocks.1.");
    kept.insert({"visual.norm.weight", "visual.norm.bias"});
    EXPECT_EQ(as_set(rep.skipped), kept);
    expect_same(m, fresh, kept);
    EXPECT_EQ(as_set(rep.unexpected), (std::set<std::string>{"lm_head.weight", "lm_head.bias", "mask_token"}));
    EXPECT_FALSE(
        test::allclose(fresh["visual.blocks.0.norm1.weight"].value(), m["visual.blocks.0.norm1.weight"].value(), 0, 0));
  }
  {
    Model m;  // a pattern on timm's name of the final norm
    const Model fresh;
    const PretrainedReport rep = m.image(kPretrainedDir + "mim_timm.safetensors", {"fc_norm.*"});
    EXPECT_EQ(as_set(rep.skipped), (std::set<std::string>{"visual.norm.weight", "visual.norm.bias"}));
    expect_same(m, fresh, {"visual.norm.weight", "visual.norm.bias"});
  }
  {
    Model m;
    const PretrainedReport rep = m.text(kPretrainedDir + "text_openai.safetensors", {});
    const SafetensorsFile openai(kPretrainedDir + "text_openai.safetensors");
    EXPECT_EQ(as_set(rep.loaded), with_prefix(m, "text."));
    EXPECT_TRUE(test::allclose(openai.tensor("text_projection", DType::f64), m["text.text_projection"].value(), 0, 0));
    EXPECT_TRUE(as_set(rep.unexpected).count("logit_scale"));
  }
}

// A MIM file without two block keys: one error naming both (in one line), and no parameter changed. A shape that
// cannot be resampled is in the same error.
TEST(Pretrained, MissingTrunkKeysAreOneError) {
  auto tensors = load_safetensors(kMim);
  tensors.erase("blocks.1.attn.k_proj.weight");
  tensors.erase("blocks.0.mlp.ffn_ln.bias");
  tensors["blocks.0.norm1.weight"] = Tensor::zeros({15}, DType::f32);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("evaclip_test_pretrained_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  save_safetensors(path, tensors);
  Model m;
  const Model fresh;
  std::string msg;
  try {
    m.image(path);
  } catch (const Error& e) {
    msg = e.what();
  }
  std::filesystem::remove(path);
  EXPECT_NE(msg.find("load_pretrained_image: " + path), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 missing: visual.blocks.0.mlp.ffn_ln.bias, visual.blocks.1.attn.k_proj.weight"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("1 shape mismatches: blocks.0.norm1.weight (15,) vs model (16,)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  expect_same(m, fresh, with_prefix(m, ""));

  ModelConfig short_ctx = m.cfg;
  short_ctx.clip.text.context_length = 10;
  ParamInit init(DType::f64, DType::f64, 7);
  const Clip<Eva02Block> other(init, short_ctx.clip);
  EXPECT_THROW_MSG(
      load_pretrained_text(other.params(), kPretrainedDir + "text_openai.safetensors", default_skip_list()),
      "positional_embedding (12, 16) vs model (10, 16)");
  EXPECT_THROW_MSG(
      load_pretrained_text(m.clip.params(TextKeys::top_level), kPretrainedDir + "text_openai.safetensors", {}),
      "the model has no text.* parameters");
}

// The strongest check: the official EVA-CLIP initialisation path (create_model with pretrained_image = the MIM
// .pt, pretrained_text = the OpenCLIP state dict, the README's skip list) in float64. Given the official fresh
// head and text_projection (its RNG is not ours), the loaded model's features match. The official loader resizes
// in float32 (kernel within 1.6e-8, pos_embed 1.1e-6 of the float64 resize), hence the tolerance.
TEST(Pretrained, MatchesTheOfficialInitialisationPath) {
  Model m;
  m.image(kMim);
  m.text(kPretrainedDir + "text_openclip.safetensors");
  const SafetensorsFile expected(kPretrainedDir + "expected.safetensors");
  EXPECT_TRUE(test::allclose(expected.tensor("official.logit_scale"), m["logit_scale"].value(), 1e-7, 0));
  for (const char* k : {"visual.head.weight", "visual.head.bias", "text.text_projection"})
    m[k].assign(expected.tensor(std::string("official.") + k));

  Tape<fp64> tape;
  const auto out = m.clip.forward(tape, Var(expected.tensor("pixel_values", DType::f64)), expected.tensor("input_ids"));
  const double img = test::rel_err(expected.tensor("image_features"), out.image_features.value());
  const double txt = test::rel_err(expected.tensor("text_features"), out.text_features.value());
  std::ostringstream os;
  os << std::scientific << "relative error vs the official features: image " << img << ", text " << txt;
  RecordProperty("rel_err", os.str());
  EXPECT_LT(img, 1e-6);
  EXPECT_LT(txt, 1e-12);
}
