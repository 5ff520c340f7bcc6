// rope_attention.hpp — defines rope_attention(tape, q, k, v, options): EVA-02's 2D RoPE on q and k fused
// with scaled-dot-product attention, with backward; and its options (RopeRef, AttentionOptions).
//
// One op for every attention block: without RoPE tables it is plain attention (text tower, EVA01,
// EVA02-E). It computes exactly rope2d(q), rope2d(k), attention() (the rotated q/k are rounded to the
// activation type, as the separate ops round them), but the GPU kernel rotates on load and never writes
// the rotated q/k or the (T, T) scores; the backend's fusion.attention switch selects the unfused GPU
// kernels instead. Saved for the backward: the row log-sum-exp, as attention() saves.
#pragma once

#include <cmath>
#include <optional>
#include <utility>

#include "evaclip/ops/attention_args.hpp"
#include "evaclip/ops/cpu/rope_attention.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// The RoPE tables of one forward pass in the policy's compute type: (T - prefix, hd) shared by the batch,
// or (B, T - prefix, hd) per sample; both null: no RoPE.
struct RopeRef {
  const Tensor* cos = nullptr;
  const Tensor* sin = nullptr;
};

struct AttentionOptions {
  RopeRef rope{};                 // none: plain attention
  std::int64_t prefix = 0;        // leading tokens (CLS) that RoPE leaves unrotated
  bool causal = false;            // each query sees the keys up to itself (torch's is_causal)
  std::optional<double> scale{};  // default hd^-0.5
};

// q, k, v: (B, H, T, hd). Returns softmax(scale q' k'^T) v with q', k' the rotated q, k: (B, H, T, hd).
template <class P, class B>
Var rope_attention(Tape<P, B>& tape, const Var& q, const Var& k, const Var& v, const AttentionOptions& opt = {}) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "rope_attention", "q", q);
  check_arg(tape, "rope_attention", "k", k);
  check_arg(tape, "rope_attention", "v", v);
  EVACLIP_CHECK(q.shape().size() == 4, "rope_attention: q has shape ", to_string(q.shape()),
                ", expected (B, H, T, hd)");
  check_shape("rope_attention", "k", k, q.shape());
  check_shape("rope_attention", "v", v, q.shape());
  const std::int64_t batch = q.shape()[0], H = q.shape()[1], L = q.shape()[2], hd = q.shape()[3];
  const std::int64_t prefix = opt.prefix;
  const double s = opt.scale.value_or(1.0 / std::sqrt(double(hd)));
  EVACLIP_CHECK(s > 0 && std::isfinite(s), "rope_attention: scale must be positive and finite, got ", s);
  EVACLIP_CHECK(0 <= prefix && prefix <= L, "rope_attention: prefix ", prefix, " out of range for q ",
                to_string(q.shape()));
  const auto [cos, sin] = opt.rope;
  EVACLIP_CHECK((cos == nullptr) == (sin == nullptr), "rope_attention: cos and sin must both be given or both null");
  const bool rope = cos != nullptr;
  const bool per_sample = rope && cos->defined() && cos->shape().size() == 3;
  if (rope) {
    EVACLIP_CHECK(hd % 2 == 0, "rope_attention: head dim ", hd, " of q ", to_string(q.shape()),
                  " must be even for RoPE");
    const Shape want = per_sample ? Shape{batch, L - prefix, hd} : Shape{L - prefix, hd};
    for (const auto& [name, table] : {std::pair{"cos", cos}, std::pair{"sin", sin}}) {
      EVACLIP_CHECK(table->defined(), "rope_attention: ", name, " is undefined");
      EVACLIP_CHECK(table->shape() == want, "rope_attention: ", name, " has shape ", to_string(table->shape()),
                    ", expected ", to_string(want), " for q ", to_string(q.shape()), " with prefix ", prefix);
      EVACLIP_CHECK(table->dtype() == P::compute_dtype, "rope_attention: ", name, " ", to_string(table->shape()),
                    " is ", dtype_name(table->dtype()), " but the ", P::name, " policy computes in ",
                    dtype_name(P::compute_dtype));
      EVACLIP_CHECK(table->device() == B::device && table->is_contiguous(), "rope_attention: ", name, " ",
                    to_string(table->shape()), " must be contiguous and on ", device_name(B::device));
    }
  }
  // A copy of this lambda holds the tensors the pointers point into: the backward closure keeps them alive.
  const Tensor cos_table = rope ? *cos : Tensor(), sin_table = rope ? *sin : Tensor();
  const auto args = [=] {
    return AttentionArgs<T, Acc>{.q = q.value().data<T>(),
                                 .k = k.value().data<T>(),
                                 .v = v.value().data<T>(),
                                 .cos = data_or_null<Acc>(cos_table),
                                 .sin = data_or_null<Acc>(sin_table),
                                 .batch = batch,
                                 .heads = H,
                                 .tokens = L,
                                 .head_dim = hd,
                                 .prefix = prefix,
                                 .per_sample = per_sample,
                                 .causal = opt.causal,
                                 .scale = s};
  };
  Tensor o = new_act(tape, q.shape()), lse = new_compute(tape, {batch, H, L});
  rope_attention_forward(tape.backend, o.data<T>(), lse.data<Acc>(), args());
  return differentiable(tape, o, {q, k, v}, [=](const auto& be, auto& g, const T* dout) {
    rope_attention_backward(be, g[0], g[1], g[2], dout, lse.data<Acc>(), args());
  });
}

}  // namespace evaclip
