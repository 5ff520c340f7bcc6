// exp_clamp.hpp — defines exp_clamp(tape, x, lo, hi) = exp(clamp(x, lo, hi)), with backward.
//
// CLIP's logit scale: scale = exp_clamp(logit_scale, 0, ln 100) keeps the temperature in [1, 100].
// The gradient is exp(x) for lo <= x <= hi (boundaries included, as torch.clamp) and 0 outside.
#pragma once

#include "evaclip/ops/cpu/exp_clamp.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: any shape. Returns exp(clamp(x, lo, hi)), shaped like x.
template <class P, class B>
Var exp_clamp(Tape<P, B>& tape, const Var& x, double lo, double hi) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "exp_clamp", "x", x);
  EVACLIP_CHECK(lo <= hi, "exp_clamp: empty range lo = ", lo, " > hi = ", hi);
  const std::int64_t n = x.value().numel();
  Tensor y = new_act(tape, x.shape());
  exp_clamp_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), n, lo, hi);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {
    exp_clamp_backward<Acc>(be, g[0], dy, x.value().data<T>(), n, lo, hi);
  });
}

}  // namespace evaclip
