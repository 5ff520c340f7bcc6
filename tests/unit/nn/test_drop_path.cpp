// Tests drop path (ops/drop_path.hpp) and the training forward of the vision tower: the op against a
// per-sample loop and by finite differences, the factors' distribution, the per-block rates against the
// official EVAVisionTransformer (tests/data/train_model/official_counts.safetensors), and the model: the
// forward without an Rng is the eval forward bit for bit, the same Rng gives the same training forward,
// and activation checkpointing gives bit-identical gradients with patch dropout and drop path on.
#include <sstream>

#include "common/test_util.hpp"
#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/clip.hpp"
#include "evaclip/ops/drop_path.hpp"

using namespace evaclip;
using namespace evaclip::nn;
using evaclip::test::randn;

namespace {

ClipCfg tiny_cfg(double patch_dropout, double drop_path_rate) {
  ClipCfg c;
  c.embed_dim = 8;
  c.vision.image_size = 16;
  c.vision.patch_size = 4;  // grid 4: 16 patches + CLS
  c.vision.width = 16;
  c.vision.layers = 3;
  c.vision.head_width = 8;
  c.vision.mlp_ratio = 2.6667;
  c.vision.pt_hw_seq_len = 8;
  c.vision.patch_dropout = patch_dropout;
  c.vision.drop_path_rate = drop_path_rate;
  c.text.context_length = 5;
  c.text.vocab_size = 11;
  c.text.width = 16;
  c.text.heads = 2;
  c.text.layers = 1;
  return c;
}

const Tensor kIds = Tensor::from({4, 5}, DType::i64,
                                 std::vector<double>{9, 1, 2, 10, 0, 9, 4, 10, 0, 0, 9, 3, 3, 7, 10, 9, 5, 6, 8, 10});

// Every parameter and gradient of a fresh model (seeded init), after one forward + backward of the loss.
std::vector<std::vector<double>> loss_grads(const ClipCfg& cfg, Rng* rng, bool checkpointing = false) {
  ParamInit init(DType::f32, DType::f32, 4);
  Clip<Eva02Block> m(init, cfg);
  m.visual.grad_checkpointing = checkpointing;
  Tape<fp32> t;
  const auto out = m.forward(t, Var(randn({4, 3, 16, 16}, DType::f32, 5)), kIds, rng);
  t.backward(out.loss);
  std::vector<std::vector<double>> g{out.image_features.value().to_vector()};
  for (const auto& p : m.params()) g.push_back(p.var.grad().to_vector());
  return g;
}

// The vision forward as it was before training randomness existed, composed from the same ops.
template <class P>
Var eval_forward(Tape<P>& t, const VisionTransformer<Eva02Block>& m, const Var& images) {
  const std::int64_t B = images.shape()[0];
  Var x = patch_embed(t, images, m.patch_weight, m.patch_bias, m.cfg.patch_size);
  x = add(t, concat(t, {expand_batch(t, m.cls_token, B), x}, 1), m.pos_embed);
  const Tensor cos = m.rope.cos.to(P::compute_dtype), sin = m.rope.sin.to(P::compute_dtype);
  for (const auto& blk : m.blocks) x = blk(t, x, RopeRef{&cos, &sin});
  return m.head(t, reshape(t, slice(t, m.norm(t, x), 1, 0, 1), {B, m.cfg.width}));
}

}  // namespace

TEST(DropPath, ForwardScalesEachSample) {
  const Tensor x = randn({3, 4, 5}, DType::f64, 1);
  const Tensor s = Tensor::from({3}, DType::f64, std::vector<double>{2.0, 0.0, 1.25});
  Tape<fp64> t;
  const Var y = drop_path(t, Var(x), s);
  auto xv = x.view<double>(), yv = y.value().view<double>();
  const double f[] = {2.0, 0.0, 1.25};
  for (int b = 0; b < 3; ++b)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 5; ++j) EXPECT_EQ(yv(b, i, j), xv(b, i, j) * f[b]);
}

TEST(DropPath, GradientMatchesFiniteDifferences) {
  const Tensor s = Tensor::from({3}, DType::f64, std::vector<double>{2.0, 0.0, 1.25});
  auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return drop_path(t, v[0], s); };
  const auto rep = gradcheck(f, {randn({3, 4, 5}, DType::f64, 2)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(DropPath, RateZeroIsTheIdentity) {
  Rng rng(3);
  const Tensor s = drop_path_scales(rng, 6, 0.0, DType::f32);
  EXPECT_TRUE(test::allclose(Tensor::full({6}, DType::f32, 1.0), s, 0, 0));
  const Tensor x = randn({6, 2, 3}, DType::f32, 4);
  Tape<fp32> t;
  EXPECT_TRUE(test::allclose(x, drop_path(t, Var(x), s).value(), 0, 0));
}

TEST(DropPath, KeepsAFractionOneMinusRateScaledByItsInverse) {
  const std::int64_t n = 200000;
  for (double rate : {0.1, 0.3, 0.5}) {
    Rng rng(5);
    const auto s = drop_path_scales(rng, n, rate).to_vector();
    double kept = 0;
    for (double v : s) {
      if (v != 0) {
        EXPECT_EQ(v, 1.0 / (1.0 - rate));
      }
      kept += v != 0;
    }
    const double q = 1 - rate, sigma = std::sqrt(double(n) * q * (1 - q));
    EXPECT_NEAR(kept, double(n) * q, 5 * sigma) << "rate " << rate;
  }
  Rng rng(6);
  for (double v : drop_path_scales(rng, 100, 1.0).to_vector()) EXPECT_EQ(v, 0.0);  // rate 1 drops every sample
  Rng a(7), b(7);
  EXPECT_EQ(drop_path_scales(a, 50, 0.4).to_vector(), drop_path_scales(b, 50, 0.4).to_vector());
}

TEST(DropPath, PerBlockRatesFollowTheOfficialLinspace) {
  const SafetensorsFile counts(test::data_path("train_model/official_counts.safetensors"));
  int schedules = 0;
  const std::vector<std::pair<int, double>> official_configs = {{1, 0.4}, {3, 0.5}, {7, 0.4}, {12, 0.1}, {40, 0.4}};
  for (const auto& [depth, rate] : official_configs) {
    std::ostringstream key;
    key << "schedule." << depth << "_" << rate;
    const auto official = counts.tensor(key.str()).to_vector();
    VisionCfg v;
    v.layers = depth;
    v.drop_path_rate = rate;
    ASSERT_EQ(official.size(), std::size_t(depth)) << key.str();
    for (int i = 0; i < depth; ++i)
      EXPECT_NEAR(v.drop_path_at(i), official[std::size_t(i)], 1e-7) << key.str() << " block " << i;
    ++schedules;
  }
  EXPECT_EQ(schedules, 5);
}

TEST(DropPath, BadArgumentsNameTheOp) {
  Tape<fp64> t;
  const Var x(randn({3, 2}, DType::f64, 1));
  EXPECT_THROW_MSG(drop_path(t, x, Tensor::full({2}, DType::f64, 1.0)),
                   "drop_path: scales has shape (2,), expected (3,) for x (3, 2)");
  EXPECT_THROW_MSG(drop_path(t, x, Tensor::full({3}, DType::f32, 1.0)),
                   "drop_path: scales (3,) is f32 but the fp64 policy computes in f64");
  Rng rng(1);
  EXPECT_THROW_MSG(drop_path_scales(rng, 3, 1.5), "drop_path_scales: rate 1.5 is outside [0, 1]");
  ClipCfg bad;
  bad.vision.drop_path_rate = 2;
  EXPECT_THROW_MSG(bad.validate(), "vision_cfg: drop_path_rate 2 is outside [0, 1]");
}

TEST(TrainingForward, WithoutAnRngItIsTheEvalForwardBitForBit) {
  const Tensor images = randn({4, 3, 16, 16}, DType::f64, 8);
  auto run = [&](const ClipCfg& cfg, Rng* rng, bool reference) {
    ParamInit init(DType::f64, DType::f64, 9);
    const Clip<Eva02Block> m(init, cfg);
    Tape<fp64> t;
    const Var f = reference ? eval_forward(t, m.visual, Var(images)) : m.visual(t, Var(images), rng);
    t.backward(f, randn(f.shape(), DType::f64, 10));
    std::vector<std::vector<double>> g{f.value().to_vector(), {double(t.size())}};
    ParamList params;
    m.visual.params("visual.", params);
    for (const auto& p : params) g.push_back(p.var.grad().to_vector());
    return g;
  };
  const auto reference = run(tiny_cfg(0, 0), nullptr, true);
  EXPECT_EQ(run(tiny_cfg(0.5, 0.5), nullptr, false), reference);  // the rates do nothing without an Rng
  Rng rng(1);
  EXPECT_EQ(run(tiny_cfg(0, 0), &rng, false), reference);  // an Rng with nothing to drop draws nothing
  EXPECT_EQ(rng.state(), Rng(1).state());
  EXPECT_NE(run(tiny_cfg(0.5, 0.5), &rng, false), reference);
}

TEST(TrainingForward, SameRngSameResultAndCheckpointingIsBitIdentical) {
  const ClipCfg cfg = tiny_cfg(0.5, 0.5);
  Rng r1(21), r2(21), r3(21), r4(22);
  const auto plain = loss_grads(cfg, &r1), again = loss_grads(cfg, &r2), ckpt = loss_grads(cfg, &r3, true);
  EXPECT_EQ(plain, again);
  EXPECT_EQ(plain, ckpt);
  EXPECT_EQ(r1.state(), r3.state());  // checkpointing draws nothing more in backward
  EXPECT_NE(plain, loss_grads(cfg, &r4));
  EXPECT_NE(plain, loss_grads(cfg, nullptr));
}

TEST(TrainingForward, PatchDropoutKeepsKTokensAndDropPathZeroesWholeSamples) {
  // With drop path 1 on every block but the first (rates 0, 0.5, 1), the last block's branches are
  // always dropped: it then passes its input through unchanged, which the head sees.
  ClipCfg cfg = tiny_cfg(0.75, 1.0);
  ParamInit init(DType::f64, DType::f64, 12);
  const Clip<Eva02Block> m(init, cfg);
  Rng rng(13);
  const auto drop = m.visual.draw_drop_path<fp64, Cpu>(rng, 4);
  ASSERT_EQ(drop.size(), 3u);
  EXPECT_FALSE(drop[0].attn.defined() || drop[0].mlp.defined());  // rate 0 draws nothing
  EXPECT_EQ(drop[2].attn.to_vector(), std::vector<double>(4, 0.0));
  EXPECT_EQ(drop[2].mlp.to_vector(), std::vector<double>(4, 0.0));
  Tape<fp64> t;
  const Var x = m.visual.embed(t, Var(randn({4, 3, 16, 16}, DType::f64, 14)));
  const Tensor keep = nn::patch_dropout_indices(rng, 4, 16, 0.75);
  ASSERT_EQ(keep.shape(), (Shape{4, 4}));
  const auto [cos, sin] = m.visual.rope_tables<fp64>();
  const PatchDropped d = patch_dropout(t, x, cos, sin, keep);
  EXPECT_EQ(d.x.shape(), (Shape{4, 5, 16}));
  // Blocks 0 and 1 by hand, then no third block: the same features as the forward with the last dropped.
  Var h = d.x;
  for (int i = 0; i < 2; ++i) h = m.visual.blocks[std::size_t(i)](t, h, RopeRef{&d.cos, &d.sin}, drop[std::size_t(i)]);
  const Var want = m.visual.head(t, reshape(t, slice(t, m.visual.norm(t, h), 1, 0, 1), {4, 16}));
  const Var got = m.visual.forward_tokens(t, d.x, d.cos, d.sin, drop);
  EXPECT_TRUE(test::allclose(want.value(), got.value(), 0, 0));
}
