// linear.hpp — defines linear(tape, x, w, b): y = x W^T + b over the last dimension, with backward.
#pragma once

#include "evaclip/ops/cpu/linear.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: (..., K); w: (N, K) (torch nn.Linear layout); b: (N,) or an undefined Var (no bias). Returns (..., N).
template <class P, class B>
Var linear(Tape<P, B>& tape, const Var& x, const Var& w, const Var& b) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "linear", "x", x);
  check_arg(tape, "linear", "weight", w);
  EVACLIP_CHECK(!x.shape().empty(), "linear: x must have at least one dimension");
  EVACLIP_CHECK(w.shape().size() == 2, "linear: weight has shape ", to_string(w.shape()), ", expected (out, in)");
  const std::int64_t K = x.shape().back(), N = w.shape()[0], R = rows_of(x.shape());
  check_shape("linear", "weight", w, {N, K});
  if (b.defined()) {
    check_arg(tape, "linear", "bias", b);
    check_shape("linear", "bias", b, {N});
  }
  Shape ys = x.shape();
  ys.back() = N;
  Tensor y = new_act(tape, ys);
  linear_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), w.value().data<T>(), data_or_null<T>(b), R, K, N);
  return differentiable(tape, y, {x, w, b}, [=](const auto& be, auto& g, const T* dy) {
    linear_backward<Acc>(be, g[0], g[1], g[2], dy, x.value().data<T>(), w.value().data<T>(), R, K, N);
  });
}

}  // namespace evaclip
