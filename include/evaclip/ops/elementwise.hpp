// elementwise.hpp — defines add, mul and scale: element-wise arithmetic with row broadcasting, with backward.
//
// add(a, b) and mul(x, g) take a second operand whose shape, after dropping leading 1s, equals the trailing
// dimensions of the first: with a (B, T, D), b may be (B, T, D) (residual), (D,) (bias, layer scale γ),
// (T, D) or (1, T, D) (positional embedding). The result has the first operand's shape.
#pragma once

#include <algorithm>

#include "evaclip/ops/cpu/elementwise.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

namespace detail {
// How many times b repeats over a (the R of a viewed as (R, numel(b))); throws naming the op if b does
// not broadcast over a as described above.
inline std::int64_t broadcast_rows(const char* op, const char* an, const Var& a, const char* bn, const Var& b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  const auto first = std::find_if(sb.begin(), sb.end(), [](std::int64_t d) { return d != 1; });
  const std::size_t k = std::size_t(sb.end() - first);  // dimensions of b after its leading 1s
  const bool ok = sb.size() <= sa.size() && std::equal(first, sb.end(), sa.end() - std::ptrdiff_t(k));
  EVACLIP_CHECK(ok, op, ": ", bn, " has shape ", to_string(sb), " which does not broadcast over ", an, " ",
                to_string(sa), " (it must equal the trailing dimensions of ", an, ")");
  const std::int64_t C = b.value().numel();
  return C == 0 ? 0 : a.value().numel() / C;
}
}  // namespace detail

// a: (..., S...); b: (S...) possibly with leading 1s. Returns a + b, shaped like a.
template <class P, class B>
Var add(Tape<P, B>& tape, const Var& a, const Var& b) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "add", "a", a);
  check_arg(tape, "add", "b", b);
  const std::int64_t R = detail::broadcast_rows("add", "a", a, "b", b), C = b.value().numel();
  Tensor y = new_act(tape, a.shape());
  add_forward<Acc>(tape.backend, y.data<T>(), a.value().data<T>(), b.value().data<T>(), R, C);
  return differentiable(tape, y, {a, b},
                        [=](const auto& be, auto& g, const T* dy) { add_backward<Acc>(be, g[0], g[1], dy, R, C); });
}

// x: (..., S...); g: (S...) possibly with leading 1s (layer scale γ: (D,)). Returns x * g, shaped like x.
template <class P, class B>
Var mul(Tape<P, B>& tape, const Var& x, const Var& g) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "mul", "x", x);
  check_arg(tape, "mul", "g", g);
  const std::int64_t R = detail::broadcast_rows("mul", "x", x, "g", g), C = g.value().numel();
  Tensor y = new_act(tape, x.shape());
  mul_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), g.value().data<T>(), R, C);
  return differentiable(tape, y, {x, g}, [=](const auto& be, auto& grads, const T* dy) {
    mul_backward<Acc>(be, grads[0], grads[1], dy, x.value().data<T>(), g.value().data<T>(), R, C);
  });
}

// Returns s * x for a constant s.
template <class P, class B>
Var scale(Tape<P, B>& tape, const Var& x, double s) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "scale", "x", x);
  const std::int64_t n = x.value().numel();
  Tensor y = new_act(tape, x.shape());
  scale_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), s, n);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {
    scale_forward<Acc>(be, g[0], dy, s, n);  // d(s x)/dx = s
  });
}

// Returns s * x for a learnt single-element s of any shape ((), (1,), ...: CLIP's logit scale). The mul
// kernels with x viewed as (numel, 1) and s as (1,): d(s) = sum(dy * x), reduced deterministically.
template <class P, class B>
Var scale(Tape<P, B>& tape, const Var& x, const Var& s) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "scale", "x", x);
  check_arg(tape, "scale", "s", s);
  EVACLIP_CHECK(s.value().numel() == 1, "scale: s has shape ", to_string(s.shape()), ", expected a single element");
  const std::int64_t n = x.value().numel();
  Tensor y = new_act(tape, x.shape());
  mul_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), s.value().data<T>(), n, 1);
  return differentiable(tape, y, {x, s}, [=](const auto& be, auto& g, const T* dy) {
    mul_backward<Acc>(be, g[0], g[1], dy, x.value().data<T>(), s.value().data<T>(), n, 1);
  });
}

}  // namespace evaclip
