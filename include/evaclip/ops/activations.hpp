// activations.hpp — defines gelu (exact erf), silu and swiglu(gate, value) = silu(gate) * value, with backward.
#pragma once

#include "evaclip/ops/cpu/activations.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

namespace detail {
// The shared body of the one-input activations: y = fwd(x), dx = bwd(dy, x). fwd and bwd forward to the
// kernels by argument-dependent lookup on the backend tag, like every op's direct kernel calls.
template <class P, class B, class Fwd, class Bwd>
Var unary_activation(Tape<P, B>& tape, const char* op, const Var& x, Fwd fwd, Bwd bwd) {
  using T = typename P::act_t;
  check_arg(tape, op, "x", x);
  const std::int64_t n = x.value().numel();
  Tensor y = new_act(tape, x.shape());
  fwd(tape.backend, y.data<T>(), x.value().data<T>(), n);
  return differentiable(tape, y, {x},
                        [=](const auto& be, auto& g, const T* dy) { bwd(be, g[0], dy, x.value().data<T>(), n); });
}
}  // namespace detail

// x: any shape. Returns 0.5 x (1 + erf(x / √2)).
template <class P, class B>
Var gelu(Tape<P, B>& tape, const Var& x) {
  using Acc = typename P::compute_t;
  return detail::unary_activation(
      tape, "gelu", x, [](auto backend, auto... args) { gelu_forward<Acc>(backend, args...); },
      [](auto backend, auto... args) { gelu_backward<Acc>(backend, args...); });
}

// x: any shape. Returns x σ(x).
template <class P, class B>
Var silu(Tape<P, B>& tape, const Var& x) {
  using Acc = typename P::compute_t;
  return detail::unary_activation(
      tape, "silu", x, [](auto backend, auto... args) { silu_forward<Acc>(backend, args...); },
      [](auto backend, auto... args) { silu_backward<Acc>(backend, args...); });
}

// gate, value: the same shape (..., H). Returns silu(gate) * value.
template <class P, class B>
Var swiglu(Tape<P, B>& tape, const Var& gate, const Var& value) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "swiglu", "gate", gate);
  check_arg(tape, "swiglu", "value", value);
  check_shape("swiglu", "value", value, gate.shape());
  const std::int64_t n = gate.value().numel();
  Tensor y = new_act(tape, gate.shape());
  swiglu_forward<Acc>(tape.backend, y.data<T>(), gate.value().data<T>(), value.value().data<T>(), n);
  return differentiable(tape, y, {gate, value}, [=](const auto& be, auto& g, const T* dy) {
    swiglu_backward<Acc>(be, g[0], g[1], dy, gate.value().data<T>(), value.value().data<T>(), n);
  });
}

}  // namespace evaclip
