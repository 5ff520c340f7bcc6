// Tests the model assembly: every block family runs forward and backward end to end, every parameter is
// reached, sampled parameter gradients match central differences in fp64, names follow the official
// keys, and activation checkpointing leaves gradients bit-identical.
#include <set>

#include "common/test_util.hpp"
#include "evaclip/nn/variants.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

ClipCfg tiny_cfg(double ls_init = 0.0) {
  ClipCfg c;
  c.embed_dim = 8;
  c.vision.image_size = 12;
  c.vision.patch_size = 4;  // grid 3: 9 patches + CLS
  c.vision.width = 16;
  c.vision.layers = 2;
  c.vision.head_width = 8;
  c.vision.mlp_ratio = 2.6667;
  c.vision.pt_hw_seq_len = 4;  // RoPE interpolated from a 4-grid, as B/16 does from 16 to 14
  c.vision.ls_init_value = ls_init;
  c.text.context_length = 5;
  c.text.vocab_size = 11;
  c.text.width = 16;
  c.text.heads = 2;
  c.text.layers = 1;
  return c;
}

struct Batch {
  Tensor images = test::randn({3, 3, 12, 12}, DType::f64, 5);
  Tensor ids = Tensor::from({3, 5}, DType::i64, std::vector<double>{9, 1, 2, 10, 0, 9, 4, 10, 0, 0, 9, 3, 3, 7, 10});
};

// Perturbs parameters in place to give every one of them an O(1), non-trivial value.
template <class Model>
void randomise(const Model& m, std::uint64_t seed) {
  Rng rng(seed);
  for (const auto& p : m.params()) {
    const bool is_norm_weight = p.name.find("norm") != std::string::npos || p.name.find("ln") != std::string::npos;
    Tensor v = Tensor::randn(p.var.shape(), p.var.dtype(), rng, is_norm_weight ? 0.1 : 0.3);
    if (is_norm_weight && p.name.ends_with("weight")) {
      double* d = v.data<double>();
      for (std::int64_t i = 0; i < v.numel(); ++i) d[i] += 1.0;
    }
    p.var.assign(v);
  }
}

template <class Block>
void check_family(double ls_init) {
  ParamInit init(DType::f64, DType::f64, 1);
  Clip<Block> model(init, tiny_cfg(ls_init));
  randomise(model, 2);
  const Batch batch;
  auto loss_of = [&](bool record) {
    Tape<fp64> t;
    if (!record) {
      NoGrad ng(t);
      return model.forward(t, Var(batch.images), batch.ids).loss.value().item();
    }
    const auto out = model.forward(t, Var(batch.images), batch.ids);
    EXPECT_EQ(out.image_features.shape(), (Shape{3, 8}));
    EXPECT_EQ(out.text_features.shape(), (Shape{3, 8}));
    EXPECT_EQ(out.logits_per_image.shape(), (Shape{3, 3}));
    t.backward(out.loss);
    return out.loss.value().item();
  };
  loss_of(true);
  // Every parameter is reached, and sampled elements match central differences.
  Rng pick(3);
  for (const auto& p : model.params()) {
    ASSERT_TRUE(p.var.has_grad()) << p.name;
    const auto g = p.var.grad().to_vector();
    double* d = p.var.value().template data<double>();
    for (int s = 0; s < 3; ++s) {
      const std::int64_t i = std::int64_t(pick.next_u64() % std::uint64_t(p.var.value().numel()));
      const double orig = d[i], h = 1e-6;
      d[i] = orig + h;
      const double lp = loss_of(false);
      d[i] = orig - h;
      const double lm = loss_of(false);
      d[i] = orig;
      const double num = (lp - lm) / (2 * h);
      EXPECT_NEAR(g[std::size_t(i)], num, 1e-6 + 1e-5 * std::abs(num)) << p.name << "[" << i << "]";
    }
  }
}

}  // namespace

TEST(ClipModel, Eva02GradientsMatchFiniteDifferences) { check_family<Eva02Block>(0.0); }
TEST(ClipModel, Eva01LayerScaleGradientsMatchFiniteDifferences) { check_family<Eva01LayerScaleBlock>(0.1); }
TEST(ClipModel, PostNormGradientsMatchFiniteDifferences) { check_family<EvaPostNormBlock>(0.0); }

TEST(ClipModel, ParameterNamesFollowTheOfficialKeys) {
  ParamInit init(DType::f32, DType::f32, 1);
  const Clip<Eva02Block> m(init, tiny_cfg());
  std::set<std::string> names;
  for (const auto& p : m.params(TextKeys::top_level)) EXPECT_TRUE(names.insert(p.name).second) << "duplicate " << p.name;
  for (const char* k : {"visual.blocks.1.attn.q_proj.weight", "visual.blocks.0.attn.q_bias", "visual.blocks.0.attn.inner_attn_ln.bias",
                        "visual.blocks.0.mlp.w1.weight", "visual.blocks.0.mlp.ffn_ln.weight", "visual.patch_embed.proj.weight",
                        "visual.head.bias", "transformer.resblocks.0.attn.in_proj_weight", "transformer.resblocks.0.mlp.c_fc.bias",
                        "token_embedding.weight", "positional_embedding", "text_projection", "ln_final.weight", "logit_scale"})
    EXPECT_TRUE(names.count(k)) << k;
  EXPECT_FALSE(names.count("visual.blocks.0.attn.k_proj.bias"));  // k has no bias
  // docs/model-spec.md §6: B/16 has 260 vision tensors for 12 blocks (4 + 12 x 21 + 4) and 149 text tensors for 12
  // blocks (3 + 12 x 12 + 2), plus logit_scale. Here: 2 vision blocks and 1 text block.
  EXPECT_EQ(names.size(), 4u + 2 * 21 + 4 + 3 + 1 * 12 + 2 + 1);
  ParamList prefixed = m.params(TextKeys::prefixed);
  EXPECT_EQ(prefixed[prefixed.size() - 2].name, "text.ln_final.bias");
}

TEST(ClipModel, CheckpointingGivesBitIdenticalGradients) {
  auto grads = [](bool ckpt) {
    ParamInit init(DType::f32, DType::f32, 4);
    Clip<Eva02Block> m(init, tiny_cfg());
    m.visual.grad_checkpointing = ckpt;
    Tape<fp32> t;
    const Batch b;
    t.backward(m.forward(t, Var(b.images.to(DType::f32)), b.ids).loss);
    std::vector<std::vector<double>> g;
    for (const auto& p : m.params()) g.push_back(p.var.grad().to_vector());
    return g;
  };
  EXPECT_EQ(grads(false), grads(true));
}

TEST(ClipModel, BadInputsNameTheTower) {
  ParamInit init(DType::f32, DType::f32, 1);
  const Clip<Eva02Block> m(init, tiny_cfg());
  Tape<fp32> t;
  const Batch b;
  EXPECT_THROW_MSG(m.forward(t, Var(test::randn({3, 3, 16, 16}, DType::f32)), b.ids), "vision tower: pixel_values (3, 3, 16, 16)");
  EXPECT_THROW_MSG(m.forward(t, Var(b.images.to(DType::f32)), Tensor::zeros({3, 7}, DType::i64)), "context_length 5");
  ClipCfg bad = tiny_cfg();
  bad.vision.head_width = 5;
  EXPECT_THROW_MSG((Clip<Eva02Block>(init, bad)), "vision_cfg: width 16 is not a multiple of head_width 5");
}

TEST(ClipModel, VariantsDescribeTheReleasedModels) {
  int n = 0;
  for_each_variant([&](auto v) {
    using V = decltype(v);
    const ClipCfg c = V::config();
    c.validate();
    ++n;
    if (std::string(V::name) == "EVA02-CLIP-L-14") {
      EXPECT_EQ(c.vision.mlp_hidden(), 2730);
      EXPECT_EQ(c.vision.grid(), 16);
    }
    if (std::string(V::name) == "EVA01-CLIP-g-14") {
      EXPECT_EQ(c.vision.mlp_hidden(), 6144);
    }
    if (std::string(V::name) == "EVA02-CLIP-bigE-14-plus") {
      EXPECT_EQ(c.text.heads, 20);
    }
  });
  EXPECT_EQ(n, 8);
}
