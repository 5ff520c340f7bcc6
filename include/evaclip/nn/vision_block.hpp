// vision_block.hpp — defines nn::VisionBlock<Attn, Mlp, norm, layer_scale> and the EVA block families:
// Eva01Block, Eva01LayerScaleBlock, Eva02Block and EvaPostNormBlock (the E/14 models).
//
// A new block is a new combination with a name, e.g. an EVA02 block without sub-LN (docs/models.md):
//   struct MyBlock : VisionBlock<EvaAttention<AttnFeatures{.rope = true}>, SwiGluMlp> {
//     using VisionBlock::VisionBlock;
//     static constexpr const char* name = "eva02-nosubln";
//   };
#pragma once

#include <string>

#include "evaclip/nn/eva_attention.hpp"
#include "evaclip/nn/mlp.hpp"
#include "evaclip/ops/drop_path.hpp"
#include "evaclip/ops/elementwise.hpp"

namespace evaclip::nn {

// Drop path factors of one block's two residual branches, (B,) each in the compute type (from
// drop_path_scales); an undefined one leaves its branch as it is.
struct BranchDrop {
  Tensor attn, mlp;
};

enum class NormPlacement {
  pre,   // x + f(LN(x))   (EVA01, EVA02)
  post,  // x + LN(f(x))   (EVA02-CLIP-E)
};

template <class Attn, class Mlp, NormPlacement Norm = NormPlacement::pre, bool LayerScale = false>
struct VisionBlock {
  using attention_type = Attn;
  static constexpr bool uses_rope = Attn::features.rope;
  LayerNorm norm1, norm2;
  Attn attn;
  Mlp mlp;
  Var gamma_1, gamma_2;  // (D,) layer scale, LayerScale only

  VisionBlock(ParamInit& init, std::int64_t dim, std::int64_t heads, std::int64_t hidden, double eps,
              double ls_init = 0.1)
      : norm1(init, dim, eps), norm2(init, dim, eps), attn(init, dim, heads, eps), mlp(init, dim, hidden, eps) {
    if constexpr (LayerScale) {
      gamma_1 = init.constant({dim}, ls_init);
      gamma_2 = init.constant({dim}, ls_init);
    }
  }

  // Drop path multiplies each branch after its layer scale, just before the residual add (official Block).
  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x, const RopeRef& rope, const BranchDrop& drop = {}) const {
    // (B, T, D) -> (B, T, D)
    if constexpr (Norm == NormPlacement::pre) {  // x + f(LN(x))
      Var h = attn(t, norm1(t, x), rope);
      h = dropped(t, scaled(t, h, gamma_1), drop.attn);
      const AddNorm x1 = norm2.add_and_norm(t, x, h);  // x1.sum = x + h and x1.y = norm2(x1.sum), one op
      Var m = mlp(t, x1.y);
      m = dropped(t, scaled(t, m, gamma_2), drop.mlp);
      return add(t, x1.sum, m);
    } else {  // x + LN(f(x))
      Var h = norm1(t, attn(t, x, rope));
      h = dropped(t, scaled(t, h, gamma_1), drop.attn);
      const Var x1 = add(t, x, h);
      Var m = norm2(t, mlp(t, x1));
      m = dropped(t, scaled(t, m, gamma_2), drop.mlp);
      return add(t, x1, m);
    }
  }

  void params(const std::string& p, ParamList& out) const {
    if constexpr (LayerScale) {
      out.push_back({p + "gamma_1", gamma_1});
      out.push_back({p + "gamma_2", gamma_2});
    }
    norm1.params(p + "norm1.", out);
    attn.params(p + "attn.", out);
    norm2.params(p + "norm2.", out);
    mlp.params(p + "mlp.", out);
  }

 private:
  template <class P, class B>
  static Var scaled(Tape<P, B>& t, const Var& branch, const Var& gamma) {
    if constexpr (LayerScale) return mul(t, branch, gamma);
    else return branch;
  }
  template <class P, class B>
  static Var dropped(Tape<P, B>& t, const Var& branch, const Tensor& scales) {
    return scales.defined() ? drop_path(t, branch, scales) : branch;
  }
};

// The block flags of the official model_configs' vision_cfg (layer_scale: ls_init_value > 0). A registered
// block's `flags` say which configs select it (model_config.hpp); one without `flags` is chosen by name only.
struct VisionFlags {
  bool rope = false, subln = false, naiveswiglu = false, postnorm = false, layer_scale = false;
  bool operator==(const VisionFlags&) const = default;
};

// The released families, as named types: `name` is how programs and configs select one (--block NAME,
// "block": NAME; nn/families.hpp lists the compiled ones).
struct Eva01Block : VisionBlock<EvaAttention<AttnFeatures{.fused_qkv = true}>, GeluMlp> {
  using VisionBlock::VisionBlock;
  static constexpr const char* name = "eva01";
  static constexpr VisionFlags flags{};
};
struct Eva01LayerScaleBlock
    : VisionBlock<EvaAttention<AttnFeatures{.fused_qkv = true}>, GeluMlp, NormPlacement::pre, true> {
  using VisionBlock::VisionBlock;
  static constexpr const char* name = "eva01-layer-scale";
  static constexpr VisionFlags flags{.layer_scale = true};
};
struct Eva02Block : VisionBlock<EvaAttention<AttnFeatures{.rope = true, .subln = true}>, SwiGluMlp> {
  using VisionBlock::VisionBlock;
  static constexpr const char* name = "eva02";
  static constexpr VisionFlags flags{.rope = true, .subln = true, .naiveswiglu = true};
};
struct EvaPostNormBlock : VisionBlock<EvaAttention<AttnFeatures{.fused_qkv = true}>, GeluMlp, NormPlacement::post> {
  using VisionBlock::VisionBlock;
  static constexpr const char* name = "eva-postnorm";
  static constexpr VisionFlags flags{.postnorm = true};
};

}  // namespace evaclip::nn
