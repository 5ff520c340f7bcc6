// text_block.hpp — defines nn::TextAttention and nn::TextBlock: the CLIP text transformer's pre-norm block
// with causal multi-head attention (packed in_proj with bias) and a 4x GELU MLP.
#pragma once

#include <string>

#include "evaclip/nn/heads.hpp"
#include "evaclip/nn/mlp.hpp"
#include "evaclip/ops/rope_attention.hpp"
#include "evaclip/ops/elementwise.hpp"

namespace evaclip::nn {

struct TextAttention {
  Linear in_proj;   // (3W, W) + (3W,): rows q; k; v — stored as in_proj_weight / in_proj_bias
  Linear out_proj;  // (W, W)
  std::int64_t heads = 0;
  TextAttention(ParamInit& init, std::int64_t width, std::int64_t heads)
      : in_proj(init, width, 3 * width, true), out_proj(init, width, width, true), heads(heads) {}

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const {  // (B, L, W) -> (B, L, W)
    const std::int64_t W = x.shape()[2];
    const Var y = in_proj(t, x);  // (B, L, 3W)
    auto part = [&](std::int64_t i) { return split_heads(t, slice(t, y, 2, i * W, (i + 1) * W), heads); };
    const Var o = rope_attention(t, part(0), part(1), part(2), {.causal = true});  // (B, H, L, hd)
    return out_proj(t, merge_heads(t, o));
  }
  void params(const std::string& p, ParamList& out) const {
    out.push_back({p + "in_proj_weight", in_proj.weight});
    out.push_back({p + "in_proj_bias", in_proj.bias});
    out_proj.params(p + "out_proj.", out);
  }
  // Forward GEMM FLOPs over one sequence of `tokens` (model_stats.hpp): in_proj, out_proj, QK^T and AV.
  double flops(double tokens) const {
    return gemm_flops(in_proj.weight, tokens) + gemm_flops(out_proj.weight, tokens) +
           4 * tokens * tokens * double(out_proj.weight.shape()[0]);
  }
};

struct TextBlock {
  LayerNorm ln_1, ln_2;
  TextAttention attn;
  GeluMlp mlp;
  TextBlock(ParamInit& init, std::int64_t width, std::int64_t heads, std::int64_t hidden, double eps)
      : ln_1(init, width, eps), ln_2(init, width, eps), attn(init, width, heads), mlp(init, width, hidden, eps) {
    mlp.fc1_name = "c_fc";
    mlp.fc2_name = "c_proj";
  }

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const {
    const AddNorm x1 = ln_2.add_and_norm(t, x, attn(t, ln_1(t, x)));  // {x + attn, ln_2 of it}
    return add(t, x1.sum, mlp(t, x1.y));
  }
  void params(const std::string& p, ParamList& out) const {
    ln_1.params(p + "ln_1.", out);
    attn.params(p + "attn.", out);
    ln_2.params(p + "ln_2.", out);
    mlp.params(p + "mlp.", out);
  }
};

}  // namespace evaclip::nn
