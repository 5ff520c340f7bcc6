// softmax.hpp — defines softmax(tape, x): softmax over the last dimension, with backward.
#pragma once

#include "evaclip/ops/cpu/softmax.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: (..., C). Returns (..., C), each row summing to one.
template <class P, class B>
Var softmax(Tape<P, B>& tape, const Var& x) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "softmax", "x", x);
  EVACLIP_CHECK(!x.shape().empty(), "softmax: x must have at least one dimension");
  const std::int64_t C = x.shape().back(), R = rows_of(x.shape());
  Tensor y = new_act(tape, x.shape());
  softmax_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), R, C);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {  // saves y (the output), not x
    softmax_backward<Acc>(be, g[0], dy, y.data<T>(), R, C);
  });
}

}  // namespace evaclip
