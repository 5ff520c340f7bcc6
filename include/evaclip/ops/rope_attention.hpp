// rope_attention.hpp — defines rope_attention<K>(tape, q, k, v, cos, sin, prefix, causal): EVA-02's 2D RoPE
// on q and k fused with scaled-dot-product attention, with backward.
//
// One op for every attention block: cos/sin null means no RoPE (text tower, EVA01, EVA02-E). It computes
// exactly rope2d(q), rope2d(k), attention() (the rotated q/k are rounded to the activation type, as the
// separate ops round them), but the GPU kernel rotates on load and never writes the rotated q/k or the
// (T, T) scores. K picks the CUDA implementation (AttentionKernel::unfused is the ablation baseline); the
// CPU has one reference for both. Saved for the backward: the row log-sum-exp, as attention() saves.
#pragma once

#include <cmath>
#include <optional>
#include <utility>

#include "evaclip/ops/attention_kernel.hpp"
#include "evaclip/ops/cpu/rope_attention.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// q, k, v: (B, H, T, hd); cos, sin: (T - prefix, hd) shared by the batch, or (B, T - prefix, hd) per sample,
// in the compute type, or both null. The first `prefix` tokens (CLS) are not rotated. Returns
// softmax(scale q' k'^T) v with q', k' the rotated q, k: (B, H, T, hd). scale defaults to hd^-0.5; causal
// excludes the keys after each query (torch's is_causal).
template <AttentionKernel K = AttentionKernel::fused, class P, class B>
Var rope_attention(Tape<P, B>& tape, const Var& q, const Var& k, const Var& v, const Tensor* cos, const Tensor* sin,
                   std::int64_t prefix, bool causal, std::optional<double> scale = std::nullopt) {
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
  const double s = scale.value_or(1.0 / std::sqrt(double(hd)));
  EVACLIP_CHECK(s > 0 && std::isfinite(s), "rope_attention: scale must be positive and finite, got ", s);
  EVACLIP_CHECK(0 <= prefix && prefix <= L, "rope_attention: prefix ", prefix, " out of range for q ",
                to_string(q.shape()));
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
  // Held by value so the backward closure keeps the tables alive.
  const Tensor c = rope ? *cos : Tensor(), sn = rope ? *sin : Tensor();
  const Acc* cp = rope ? c.data<Acc>() : nullptr;
  const Acc* sp = rope ? sn.data<Acc>() : nullptr;
  Tensor o = new_act(tape, q.shape()), lse = new_compute(tape, {batch, H, L});
  rope_attention_forward<Acc, K>(tape.backend, o.data<T>(), lse.data<Acc>(), q.value().data<T>(), k.value().data<T>(),
                                 v.value().data<T>(), cp, sp, batch, H, L, hd, prefix, per_sample, causal, s);
  Var out = make_result(tape, o, q, k, v);
  if (!out.requires_grad()) return out;
  tape.record([=, backend = tape.backend] {
    if (!out.has_grad()) return;
    Tensor dq = grad_buffer<P, B>(q), dk = grad_buffer<P, B>(k), dv = grad_buffer<P, B>(v);
    const Tensor dout = out.grad().to(P::act_dtype);
    rope_attention_backward<Acc>(backend, data_or_null<T>(dq), data_or_null<T>(dk), data_or_null<T>(dv), dout.data<T>(),
                                 q.value().data<T>(), k.value().data<T>(), v.value().data<T>(), lse.data<Acc>(),
                                 rope ? c.data<Acc>() : nullptr, rope ? sn.data<Acc>() : nullptr, batch, H, L, hd,
                                 prefix, per_sample, causal, s);
    accumulate_if(q, std::move(dq));
    accumulate_if(k, std::move(dk));
    accumulate_if(v, std::move(dv));
  });
  return out;
}

}  // namespace evaclip
