// attention.hpp — defines attention(tape, q, k, v, causal, scale): scaled-dot-product attention, with backward.
#pragma once

#include <cmath>
#include <optional>

#include "evaclip/ops/cpu/attention.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// q, k, v: (B, H, T, hd). Returns softmax(scale q k^T) v: (B, H, T, hd). scale defaults to hd^-0.5;
// causal excludes the keys after each query (torch's is_causal).
template <class P, class B>
Var attention(Tape<P, B>& tape, const Var& q, const Var& k, const Var& v, bool causal = false,
              std::optional<double> scale = std::nullopt) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "attention", "q", q);
  check_arg(tape, "attention", "k", k);
  check_arg(tape, "attention", "v", v);
  EVACLIP_CHECK(q.shape().size() == 4, "attention: q has shape ", to_string(q.shape()), ", expected (B, H, T, hd)");
  check_shape("attention", "k", k, q.shape());
  check_shape("attention", "v", v, q.shape());
  const std::int64_t BH = q.shape()[0] * q.shape()[1], L = q.shape()[2], D = q.shape()[3];
  const double s = scale.value_or(1.0 / std::sqrt(double(D)));
  // A scale of 0 would silently average the values: reject it rather than guess that a default was meant.
  EVACLIP_CHECK(s > 0 && std::isfinite(s), "attention: scale must be positive and finite, got ", s);
  Tensor o = new_act(tape, q.shape()), lse = new_compute(tape, {q.shape()[0], q.shape()[1], L});
  attention_forward<Acc>(tape.backend, o.data<T>(), lse.data<Acc>(), q.value().data<T>(), k.value().data<T>(),
                         v.value().data<T>(), BH, L, D, causal, s);
  return differentiable(tape, o, {q, k, v}, [=](const auto& be, auto& g, const T* dout) {
    attention_backward<Acc>(be, g[0], g[1], g[2], dout, q.value().data<T>(), k.value().data<T>(), v.value().data<T>(),
                            lse.data<Acc>(), BH, L, D, causal, s);
  });
}

}  // namespace evaclip
