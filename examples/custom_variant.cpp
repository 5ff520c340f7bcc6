// custom_variant.cpp — evaclip-custom-variant: a variant of your own, as docs/models.md describes: an EVA02
// vision block without sub-LN (no inner_attn_ln), built tiny, run forward + backward, loss printed.
//
// A variant is a block type (any combination of vision_block.hpp's parts) and a ClipCfg; Clip<Block>
// does the rest: parameters, checkpoint key names, forward and backward.
#include <cmath>
#include <cstdio>

#include "evaclip/nn/model_stats.hpp"

using namespace evaclip;
using namespace evaclip::nn;

// EVA02 attention (separate q/k/v, 2D RoPE) without sub-LN, and EVA02's SwiGLU MLP.
using NoSubLnBlock = VisionBlock<EvaAttention<AttnFeatures{.rope = true}>, SwiGluMlp>;

struct TinyNoSubLn {
  static constexpr const char* name = "tiny-eva02-nosubln";
  using vision_block = NoSubLnBlock;
  static ClipCfg config() {
    ClipCfg c;  // dimensions of EVA02-CLIP-B-16, scaled down
    c.embed_dim = 16;
    c.vision.image_size = 32;
    c.vision.patch_size = 8;
    c.vision.width = 32;
    c.vision.layers = 2;
    c.vision.head_width = 16;
    c.vision.mlp_ratio = 2.6667;
    c.vision.pt_hw_seq_len = 4;
    c.text.context_length = 8;
    c.text.vocab_size = 100;
    c.text.width = 16;
    c.text.heads = 2;
    c.text.layers = 2;
    return c;
  }
};

int main() {
  try {
    using V = TinyNoSubLn;
    ParamInit init = ParamInit::for_policy<fp32>(0);
    const Clip<V::vision_block> model(init, V::config());
    const ParamList params = model.params();
    std::int64_t n = 0;
    for (const auto& p : params) n += p.var.value().numel();

    const std::int64_t batch = 4, ctx = V::config().text.context_length;
    Rng rng(1);
    const Tensor images = Tensor::randn({batch, 3, 32, 32}, DType::f32, rng);
    Tensor ids = Tensor::zeros({batch, ctx}, DType::i64);
    for (std::int64_t b = 0; b < batch; ++b) {  // SOT, a few tokens, EOT (the largest id)
      auto* row = ids.data<std::int64_t>() + b * ctx;
      row[0] = 98;
      for (std::int64_t i = 1; i <= b + 1; ++i) row[i] = 1 + (b * 7 + i * 13) % 97;
      row[b + 2] = 99;
    }
    Tape<fp32> tape;
    const auto out = model.forward(tape, Var(images), ids);
    tape.backward(out.loss);
    double gnorm = 0;
    for (const auto& p : params)
      for (double g : p.var.grad().to_vector()) gnorm += g * g;
    gnorm = std::sqrt(gnorm);
    EVACLIP_CHECK(std::isfinite(out.loss.value().item()) && std::isfinite(gnorm) && gnorm > 0,
                  "non-finite loss or gradient");
    // Sub-LN's absence shows in the count: EVA02's less one LayerNorm (2 x width) per vision block.
    const ClipCfg c = V::config();
    EVACLIP_CHECK(n == param_count(c, VisionFamily::eva02).total - 2 * c.vision.width * c.vision.layers,
                  "unexpected parameter count ", n);
    std::printf("%s: %zu tensors, %lld parameters\n", V::name, params.size(), (long long)n);
    std::printf("loss %.6f, |grad| %.6f\n", out.loss.value().item(), gnorm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-custom-variant: %s\n", e.what());
    return 1;
  }
  return 0;
}
