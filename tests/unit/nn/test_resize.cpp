// Other resolutions (docs/model-spec.md §2e) against the official code (tools/make_resize_fixtures.py): the pos_embed
// resize against utils.resize_evaclip_pos_embed, and eva02_tiny (trained at 32) run at 48 and 24 against
// the official model loaded at that size through its own load_checkpoint resize path.
#include "common/test_util.hpp"
#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_config.hpp"
#include "evaclip/nn/resize.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

const std::string kResize = test::data_path("resize/");
const std::string kModel = test::data_path("models/eva02_tiny/");

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

}  // namespace

TEST(Resize, PosEmbedMatchesTheOfficialBicubic) {
  const SafetensorsFile f(kResize + "pos_embed.safetensors");
  for (const char* pair : {"4_7", "7_4", "16_14", "3_3", "2_5"}) {
    SCOPED_TRACE(pair);
    const Tensor pos = f.tensor(std::string("pos.") + pair), want = f.tensor(std::string("expected.") + pair);
    const std::int64_t g1 = std::llround(std::sqrt(double(want.shape()[1] - 1)));
    const Tensor got = resize_pos_embed(pos, g1);
    EXPECT_EQ(got.dtype(), DType::f64);
    EXPECT_TRUE(test::allclose(want, got, 1e-12, 0)) << "max err " << max_abs_diff(want, got);
    // f32 in, f32 out: only the final rounding differs.
    EXPECT_TRUE(test::allclose(want, resize_pos_embed(pos.to(DType::f32), g1), 1e-6, 0));
  }
}

TEST(Resize, PosEmbedRejectsBadShapes) {
  EXPECT_THROW_MSG(resize_pos_embed(Tensor::zeros({1, 11, 4}, DType::f32), 3), "resize_pos_embed: pos_embed (1, 11, 4)");
  EXPECT_THROW_MSG(resize_pos_embed(Tensor::zeros({2, 5, 4}, DType::f32), 3), "resize_pos_embed");
  EXPECT_THROW_MSG(resize_pos_embed(Tensor::zeros({1, 5, 4}, DType::f32), 0), "resize_pos_embed: new grid 0");
}

TEST(Resize, Eva02TinyAtOtherSizesMatchesTheOfficialModel) {
  const ModelConfig cfg = read_model_config(kModel + "config.json");
  const SafetensorsFile weights(kModel + "weights.safetensors");
  for (const std::int64_t size : {48, 24}) {
    SCOPED_TRACE(size);
    const SafetensorsFile ref(kResize + "eva02_tiny_at" + std::to_string(size) + ".safetensors");
    ParamInit init = ParamInit::for_policy<fp64>(0);
    Clip<Eva02Block> model(init, cfg.clip);
    load_weights(model.params(cfg.text_keys), weights);
    set_image_size(model.visual, size);
    EXPECT_EQ(model.visual.cfg.image_size, size);
    EXPECT_EQ(model.visual.rope.cos.shape()[0], model.visual.cfg.num_patches());
    // The official load resizes in fp32 (the checkpoint's dtype); we resize in fp64.
    EXPECT_LT(max_abs_diff(ref.tensor("pos_embed"), model.visual.pos_embed.value()), 2e-6);

    Tape<fp64> tape;
    const Var feats = model.visual(tape, Var(ref.tensor("pixel_values", DType::f64)));
    const Tensor want = ref.tensor("image_features");
    ASSERT_EQ(feats.shape(), want.shape());
    const double err = max_abs_diff(want, feats.value());
    EXPECT_LT(err, 5e-6) << "max abs err " << err;  // measured 2.5e-7 (48) and 6.8e-7 (24)
    // The resized pos_embed is still a trainable parameter reached by backward.
    Tensor labels = Tensor::zeros({feats.shape()[0]}, DType::i64);
    tape.backward(cross_entropy(tape, feats, labels));
    EXPECT_TRUE(model.visual.pos_embed.has_grad());
  }
}

TEST(Resize, SetImageSizeRejectsSizesOffThePatchGrid) {
  const ModelConfig cfg = read_model_config(kModel + "config.json");
  ParamInit init(DType::f32, DType::f32, 0);
  Clip<Eva02Block> model(init, cfg.clip);
  EXPECT_THROW_MSG(set_image_size(model.visual, 36), "image_size 36 is not a multiple of patch_size 8");
}
