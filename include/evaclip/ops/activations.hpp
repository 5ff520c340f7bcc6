// activations.hpp — defines gelu (exact erf), silu and swiglu(a, g) = silu(a) * g, with backward.
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
  Var out = make_result(tape, y, x);
  if (!out.requires_grad()) return out;
  tape.record([=, backend = tape.backend] {
    if (!out.has_grad()) return;
    Tensor dx = Tensor::empty(x.shape(), P::act_dtype, B::device);
    const Tensor dy = out.grad().to(P::act_dtype);
    bwd(backend, dx.data<T>(), dy.data<T>(), x.value().data<T>(), n);
    x.accumulate_grad(std::move(dx));
  });
  return out;
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

// a (gate), g (value): same shape (..., H). Returns silu(a) * g.
template <class P, class B>
Var swiglu(Tape<P, B>& tape, const Var& a, const Var& g) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "swiglu", "a", a);
  check_arg(tape, "swiglu", "g", g);
  check_shape("swiglu", "g", g, a.shape());
  const std::int64_t n = a.value().numel();
  Tensor y = new_act(tape, a.shape());
  swiglu_forward<Acc>(tape.backend, y.data<T>(), a.value().data<T>(), g.value().data<T>(), n);
  Var out = make_result(tape, y, a, g);
  if (!out.requires_grad()) return out;
  tape.record([=, backend = tape.backend] {
    if (!out.has_grad()) return;
    Tensor da = grad_buffer<P, B>(a);
    Tensor dg = grad_buffer<P, B>(g);
    const Tensor dy = out.grad().to(P::act_dtype);
    swiglu_backward<Acc>(backend, data_or_null<T>(da), data_or_null<T>(dg), dy.data<T>(),
                         a.value().data<T>(), g.value().data<T>(), n);
    accumulate_if(a, std::move(da));
    accumulate_if(g, std::move(dg));
  });
  return out;
}

}  // namespace evaclip
