// eva_attention.hpp — defines nn::EvaAttention<features>: the EVA vision attention in its EVA01/E form
// (one fused qkv GEMM) and its EVA02 form (separate q/k/v, 2D RoPE on patch tokens, sub-LN before proj).
//
// q and v carry biases, k never does (docs/model-spec.md §2a). The fused form adds cat(q_bias, 0, v_bias) to the one
// GEMM as the official code does; the separate form passes q_bias/v_bias as the projections' biases.
#pragma once

#include <string>

#include "evaclip/nn/heads.hpp"
#include "evaclip/nn/linear.hpp"
#include "evaclip/ops/rope_attention.hpp"

namespace evaclip::nn {

struct AttnFeatures {
  bool fused_qkv = false;  // qkv.weight (3D, D) vs q_proj/k_proj/v_proj (D, D)
  bool rope = false;       // 2D RoPE on q and k of the patch tokens (the CLS token is not rotated)
  bool subln = false;      // inner_attn_ln over the merged heads before proj
};

template <AttnFeatures F>
struct EvaAttention {
  static constexpr AttnFeatures features = F;
  Linear qkv;                     // fused: (3D, D), no bias of its own
  Linear q_proj, k_proj, v_proj;  // separate: (D, D) each, no biases of their own
  Var q_bias, v_bias;             // (D,)
  LayerNorm inner_attn_ln;        // subln only
  Linear proj;                    // (D, D) with bias
  std::int64_t heads = 0;

  EvaAttention(ParamInit& init, std::int64_t dim, std::int64_t heads, double eps) : heads(heads) {
    if constexpr (F.fused_qkv) {
      qkv = Linear(init, dim, 3 * dim, false);
    } else {
      q_proj = Linear(init, dim, dim, false);
      k_proj = Linear(init, dim, dim, false);
      v_proj = Linear(init, dim, dim, false);
    }
    q_bias = init.constant({dim}, 0.0);
    v_bias = init.constant({dim}, 0.0);
    if constexpr (F.subln) inner_attn_ln = LayerNorm(init, dim, eps);
    proj = Linear(init, dim, dim, true);
  }

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x, const RopeRef& rope) const {  // (B, T, D) -> (B, T, D)
    const std::int64_t D = x.shape()[2];
    Var q, k, v;
    if constexpr (F.fused_qkv) {
      // k has no bias: its part of the fused bias is a zero constant, made on the tape's device.
      const Var k_zero(Tensor::zeros({D}, P::act_dtype).to(B::device));
      const Var y = linear(t, x, qkv.weight, concat(t, {q_bias, k_zero, v_bias}, 0));  // (B, T, 3D)
      q = slice(t, y, 2, 0, D);
      k = slice(t, y, 2, D, 2 * D);
      v = slice(t, y, 2, 2 * D, 3 * D);
    } else {
      q = linear(t, x, q_proj.weight, q_bias);
      k = linear(t, x, k_proj.weight, Var());
      v = linear(t, x, v_proj.weight, v_bias);
    }
    q = split_heads(t, q, heads);  // (B, H, T, hd)
    k = split_heads(t, k, heads);
    v = split_heads(t, v, heads);
    if constexpr (F.rope) EVACLIP_CHECK(rope.cos && rope.sin, "EvaAttention: a RoPE block was called without RoPE tables");
    // RoPE on q and k of the patch tokens (CLS is not rotated), fused with the attention.
    Var o = rope_attention(t, q, k, v, {.rope = F.rope ? rope : RopeRef{}, .prefix = 1});  // (B, H, T, hd)
    o = merge_heads(t, o);                                                                 // (B, T, D)
    if constexpr (F.subln) o = inner_attn_ln(t, o);
    return proj(t, o);
  }

  void params(const std::string& p, ParamList& out) const {
    if constexpr (F.fused_qkv) {
      qkv.params(p + "qkv.", out);
    } else {
      q_proj.params(p + "q_proj.", out);
      k_proj.params(p + "k_proj.", out);
      v_proj.params(p + "v_proj.", out);
    }
    out.push_back({p + "q_bias", q_bias});
    out.push_back({p + "v_bias", v_bias});
    if constexpr (F.subln) inner_attn_ln.params(p + "inner_attn_ln.", out);
    proj.params(p + "proj.", out);
  }

  // Forward GEMM FLOPs over one sequence of `tokens` (model_stats.hpp): the q/k/v and output projections,
  // then QK^T and AV (2 T^2 D each).
  double flops(double tokens) const {
    const double qkv_flops = F.fused_qkv ? gemm_flops(qkv.weight, tokens)
                                         : gemm_flops(q_proj.weight, tokens) + gemm_flops(k_proj.weight, tokens) +
                                               gemm_flops(v_proj.weight, tokens);
    return qkv_flops + gemm_flops(proj.weight, tokens) + 4 * tokens * tokens * double(proj.weight.shape()[0]);
  }
};

}  // namespace evaclip::nn
