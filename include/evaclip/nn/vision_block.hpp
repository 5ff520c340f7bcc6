// vision_block.hpp — defines nn::VisionBlock<Attn, Mlp, norm, layer_scale> and the EVA block families:
// Eva01Block, Eva01LayerScaleBlock, Eva02Block and EvaPostNormBlock (the E/14 models).
//
// A new block is a new combination, e.g. an EVA02 block without sub-LN:
//   using MyBlock = VisionBlock<EvaAttention<AttnFeatures{.rope = true}>, SwiGluMlp>;
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
    if constexpr (Norm == NormPlacement::pre) {
      // {x + attention branch, norm2 of it} in one op
      const AddNorm x1 = norm2.add_and_norm(t, x, dropped(t, scaled(t, attn(t, norm1(t, x), rope), gamma_1), drop.attn));
      return add(t, x1.sum, dropped(t, scaled(t, mlp(t, x1.y), gamma_2), drop.mlp));
    } else {
      const Var x1 = add(t, x, dropped(t, scaled(t, norm1(t, attn(t, x, rope)), gamma_1), drop.attn));
      return add(t, x1, dropped(t, scaled(t, norm2(t, mlp(t, x1)), gamma_2), drop.mlp));
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

using Eva01Block = VisionBlock<EvaAttention<AttnFeatures{.fused_qkv = true}>, GeluMlp>;
using Eva01LayerScaleBlock = VisionBlock<EvaAttention<AttnFeatures{.fused_qkv = true}>, GeluMlp, NormPlacement::pre, true>;
using Eva02Block = VisionBlock<EvaAttention<AttnFeatures{.rope = true, .subln = true}>, SwiGluMlp>;
using EvaPostNormBlock = VisionBlock<EvaAttention<AttnFeatures{.fused_qkv = true}>, GeluMlp, NormPlacement::post>;

}  // namespace evaclip::nn
