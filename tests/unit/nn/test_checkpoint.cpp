// A checkpoint converted by tools/convert_checkpoint.py (tools/make_checkpoint_fixture.py: eva02_tiny's
// weights saved as a fp16 .pt wrapped in "state_dict" with "module." keys) loads with load_weights, and
// every value is the fp16 rounding of the original fp32 weight.
#include "common/test_util.hpp"
#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_config.hpp"

using namespace evaclip;
using namespace evaclip::nn;

TEST(ConvertedCheckpoint, Fp16ConversionLoadsAndRoundsTheOriginal) {
  const std::string dir = test::data_path("models/eva02_tiny/");
  const ModelConfig cfg = read_model_config(dir + "config.json");
  const SafetensorsFile original(dir + "weights.safetensors");
  const SafetensorsFile converted(test::data_path("checkpoints/eva02_tiny_fp16.safetensors"));
  EXPECT_EQ(converted.entry("visual.pos_embed").dtype, DType::f16);

  ParamInit init(DType::f32, DType::f32, 0);
  const Clip<Eva02Block> model(init, cfg.clip);
  const ParamList params = model.params(cfg.text_keys);
  const LoadReport rep = load_weights(params, converted);
  EXPECT_EQ(rep.loaded, params.size());
  EXPECT_GT(rep.ignored, 0u);  // the stored RoPE tables
  for (const auto& p : params) {
    const Tensor want = original.tensor(p.name).to(DType::f16).to(DType::f32);
    EXPECT_TRUE(test::allclose(want, p.var.value(), 0, 0)) << p.name;
  }
}
