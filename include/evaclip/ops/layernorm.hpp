// layernorm.hpp — defines layernorm(tape, x, w, b, eps): LayerNorm over the last dimension, with backward.
#pragma once

#include "evaclip/ops/cpu/layernorm.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: (..., C); w: (C,); b: (C,) or an undefined Var (no bias). Returns (..., C).
template <class P, class B>
Var layernorm(Tape<P, B>& tape, const Var& x, const Var& w, const Var& b, double eps) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "layernorm", "x", x);
  check_arg(tape, "layernorm", "weight", w);
  EVACLIP_CHECK(!x.shape().empty(), "layernorm: x must have at least one dimension");
  const std::int64_t C = x.shape().back(), R = rows_of(x.shape());
  check_shape("layernorm", "weight", w, {C});
  if (b.defined()) {
    check_arg(tape, "layernorm", "bias", b);
    check_shape("layernorm", "bias", b, {C});
  }
  Tensor y = new_act(tape, x.shape()), mean = new_compute(tape, {R}), rstd = new_compute(tape, {R});
  layernorm_forward<Acc>(tape.backend, y.data<T>(), mean.data<Acc>(), rstd.data<Acc>(), x.value().data<T>(),
                         w.value().data<T>(), data_or_null<T>(b), R, C, eps);
  return differentiable(tape, y, {x, w, b}, [=](const auto& be, auto& g, const T* dy) {
    layernorm_backward<Acc>(be, g[0], g[1], g[2], dy, x.value().data<T>(), w.value().data<T>(), mean.data<Acc>(),
                            rstd.data<Acc>(), R, C);
  });
}

}  // namespace evaclip
