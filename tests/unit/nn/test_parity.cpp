// Parity with the official EVA-CLIP code: each fixture in tests/data/models was produced by the official
// model in float64 (tools/make_fixtures.py). The model is built from the fixture's config.json, loaded from
// its weights, and its features, logits, loss and every parameter gradient are compared with the reference,
// relative to each tensor's largest magnitude: fp64 to 1e-6 (the reference's RoPE tables are fp32-built,
// as ours are, but trig rounding differs by an ulp), fp32 to 1e-4 (features, logits, loss) and 1e-3 (grads).
#include "common/test_util.hpp"
#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_config.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

const std::string kData = test::data_path("models/");

template <class Policy>
void check_fixture(const std::string& name, double tol_out, double tol_grad,
                   const std::string& weights_file = "weights.safetensors") {
  SCOPED_TRACE(name + "/" + weights_file + " (" + Policy::name + ")");
  const ModelConfig cfg = read_model_config(kData + name + "/config.json");
  const SafetensorsFile weights(kData + name + "/" + weights_file);
  const SafetensorsFile inputs(kData + name + "/inputs.safetensors");
  const SafetensorsFile expected(kData + name + "/expected.safetensors");
  with_vision_block(cfg.block, [&]<class Block>(std::type_identity<Block>) {
    ParamInit init = ParamInit::for_policy<Policy>(0);
    const Clip<Block> model(init, cfg.clip);
    const ParamList params = model.params(cfg.text_keys);
    const LoadReport rep = load_weights(params, weights);
    EXPECT_EQ(rep.loaded, params.size());

    Tape<Policy> tape;
    const auto out = model.forward(tape, Var(inputs.tensor("pixel_values", Policy::act_dtype)), inputs.tensor("input_ids"));
    tape.backward(out.loss);
    EXPECT_LT(test::rel_err(expected.tensor("image_features"), out.image_features.value()), tol_out);
    EXPECT_LT(test::rel_err(expected.tensor("text_features"), out.text_features.value()), tol_out);
    EXPECT_LT(test::rel_err(expected.tensor("logit_scale"), out.scale.value()), tol_out);
    EXPECT_LT(test::rel_err(expected.tensor("logits_per_image"), out.logits_per_image.value()), tol_out);
    EXPECT_LT(test::rel_err(expected.tensor("loss"), out.loss.value()), tol_out);
    std::size_t grads = 0;
    for (const auto& p : params) {
      const std::string key = cfg.text_keys == TextKeys::prefixed || p.name.rfind("text.", 0) != 0 ? p.name : p.name.substr(5);
      ASSERT_TRUE(expected.contains("grad." + key)) << key;
      EXPECT_LT(test::rel_err(expected.tensor("grad." + key), p.var.grad()), tol_grad) << key;
      ++grads;
    }
    EXPECT_EQ(grads, params.size());
  });
}

const char* kFixtures[] = {"eva01_tiny", "eva01_ls_tiny", "eva02_tiny", "eva02_tiny_interp", "eva02e_tiny"};

}  // namespace

TEST(Parity, Fp64MatchesTheOfficialModel) {
  for (const char* f : kFixtures) check_fixture<fp64>(f, 1e-6, 1e-6);
}

TEST(Parity, Fp32MatchesTheOfficialModel) {
  for (const char* f : kFixtures) check_fixture<fp32>(f, 1e-4, 1e-3);
}

// The same weights in open_clip's layout (vision trunk under visual.trunk. with timm's names), converted by
// timm's own checkpoint_filter_fn (tools/make_openclip_fixture.py), give the same model.
TEST(Parity, OpenClipLayoutLoadsTheSameModel) {
  check_fixture<fp64>("eva02_tiny", 1e-6, 1e-6, "weights_openclip.safetensors");
}

TEST(Parity, LoaderReportsEveryProblemInOneLine) {
  const ModelConfig cfg = read_model_config(kData + "eva02_tiny/config.json");
  ClipCfg wider = cfg.clip;
  wider.text.layers = 3;  // one more text block than the checkpoint has
  wider.embed_dim = 12;   // heads and text projection no longer fit
  ParamInit init(DType::f32, DType::f32, 0);
  const Clip<Eva02Block> model(init, wider);
  const SafetensorsFile weights(kData + "eva02_tiny/weights.safetensors");
  try {
    load_weights(model.params(TextKeys::prefixed), weights);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing: text.transformer.resblocks.2.ln_1.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3 shape mismatches: visual.head.weight (16, 32) vs model (12, 32)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("text.text_projection (16, 16) vs model (16, 12)"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(Parity, ConfigFlagsWithoutACompiledBlockAreAnError) {
  nlohmann::json j = nlohmann::json::parse(R"({"embed_dim": 8, "vision_cfg": {"rope": true, "subln": false}, "text_cfg": {}})");
  EXPECT_THROW_MSG(parse_model_config(j, "cfg.json"), "cfg.json: vision_cfg: no compiled block for rope=1 subln=0");
  j = nlohmann::json::parse(R"({"embed_dim": 8, "vision_cfg": {"width": "wide"}, "text_cfg": {}})");
  EXPECT_THROW_MSG(parse_model_config(j, "cfg.json"), "field \"width\" has the wrong type");
}
