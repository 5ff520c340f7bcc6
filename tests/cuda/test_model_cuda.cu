// Tests whole models on the GPU: every released variant (one block per tower, its real widths, heads,
// head dims and image size) runs Clip::forward on a Tape<P, Cuda> and matches the same model, same
// weights, on the CPU backend in the same precision: fp32 within 1e-4, bf16 and fp16 within 2e-2 of each
// output's largest magnitude (16-bit activations rounded at different points of fused kernels). Also the
// fusion switches (core/backend.hpp) at model level. Skipped without a device.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "evaclip/cuda.cuh"
#include "evaclip/nn/clip.hpp"
#include "evaclip/nn/model_stats.hpp"
#include "evaclip/nn/variants.hpp"
#include "gpu_test_util.cuh"

using namespace evaclip;
using namespace evaclip::gpu_test;

namespace {

// The variant's config with one block per tower (the widths, heads and sizes stay).
nn::ClipCfg one_block(nn::ClipCfg c) {
  c.vision.layers = 1;
  c.text.layers = 1;
  return c;
}

template <class Block, class P>
nn::Clip<Block> make_model(const nn::ClipCfg& c, Device device) {
  nn::ParamInit init = nn::ParamInit::for_policy<P>(7);
  nn::Clip<Block> m(init, c);
  // The recipe's init leaves the head near zero: larger weights make the comparison meaningful.
  Rng rng(3);
  m.visual.head.weight.assign(Tensor::randn(m.visual.head.weight.shape(), P::param_dtype, rng, 0.05));
  for (const nn::NamedParam& p : m.params()) p.var.move_to(device);
  return m;
}

// (N, 3, S, S) pixels and (N, L) ids with an end-of-text token at a varying position.
std::pair<Tensor, Tensor> inputs(const nn::ClipCfg& c, std::int64_t n) {
  Rng rng(11);
  const std::int64_t S = c.vision.image_size, L = c.text.context_length, V = c.text.vocab_size;
  Tensor px = Tensor::randn({n, 3, S, S}, DType::f32, rng);
  Tensor ids = Tensor::zeros({n, L}, DType::i64);
  for (std::int64_t b = 0; b < n; ++b) {
    const std::int64_t len = 3 + (b * 5) % (L - 4);
    for (std::int64_t i = 0; i < len; ++i) ids.data<std::int64_t>()[b * L + i] = 1 + std::int64_t(rng.uniform() * double(V - 3));
    ids.data<std::int64_t>()[b * L + len] = V - 1;
  }
  return {px, ids};
}

template <class Block, class P>
void expect_gpu_matches_cpu(const nn::ClipCfg& cfg, const std::string& what, double tol, Fusion fusion = {}) {
  SCOPED_TRACE(what + " " + P::name + ", unfused: " + unfused_names(fusion));
  const auto [px, ids] = inputs(cfg, 2);
  const auto cpu_model = make_model<Block, P>(cfg, Device::cpu);
  const auto gpu_model = make_model<Block, P>(cfg, Device::cuda);
  Tape<P> ct;
  Tape<P, Cuda> gt(Cuda{.fusion = fusion});
  NoGrad n1(ct), n2(gt);
  const auto want = cpu_model.forward(ct, Var(px.to(P::act_dtype)), ids);
  const auto got = gpu_model.forward(gt, Var(px.to(P::act_dtype).to(Device::cuda)), ids);
  auto check = [&](const char* name, const Var& w, const Var& g) {
    ASSERT_EQ(g.value().device(), Device::cuda) << name;
    EXPECT_TRUE(close_to_reference(w.value(), g.value(), tol)) << name;
  };
  check("image_features", want.image_features, got.image_features);
  check("text_features", want.text_features, got.text_features);
  check("logits_per_image", want.logits_per_image, got.logits_per_image);
  check("loss", want.loss, got.loss);
}

class CudaModel : public GpuTest {};

}  // namespace

TEST_F(CudaModel, EveryVariantMatchesTheCpuInEveryPrecision) {
  nn::for_each_variant([&]<class V>(V) {
    const nn::ClipCfg cfg = one_block(V::config());
    using Block = typename V::vision_block;
    expect_gpu_matches_cpu<Block, fp32>(cfg, V::name, 1e-4);
    expect_gpu_matches_cpu<Block, bf16_mixed>(cfg, V::name, 2e-2);
    expect_gpu_matches_cpu<Block, fp16_mixed>(cfg, V::name, 2e-2);
  });
}

// Every combination of the fusion switches on EVA02 (it uses all three fusions), and all of them off on
// every variant: the unfused kernels in sequence match the CPU as the fused ones do.
TEST_F(CudaModel, EveryFusionSwitchMatchesTheCpu) {
  const nn::ClipCfg cfg = one_block(nn::EVA02_CLIP_B_16::config());
  for (int bits = 0; bits < 8; ++bits) {
    const Fusion f{.attention = bool(bits & 1), .add_norm = bool(bits & 2), .swiglu_norm = bool(bits & 4)};
    expect_gpu_matches_cpu<nn::Eva02Block, fp32>(cfg, "EVA02-CLIP-B-16", 1e-4, f);
    expect_gpu_matches_cpu<nn::Eva02Block, bf16_mixed>(cfg, "EVA02-CLIP-B-16", 2e-2, f);
  }
  nn::for_each_variant([&]<class V>(V) {
    expect_gpu_matches_cpu<typename V::vision_block, bf16_mixed>(one_block(V::config()), V::name, 2e-2, Fusion::none());
  });
}
