// add_layernorm.hpp — defines add_layernorm(tape, x, r, w, b, eps): the residual add x + r fused with the
// LayerNorm of the sum (pre-norm blocks: the next block's norm reads the stream the add just wrote), with
// backward. Both results are bit-identical to add() followed by layernorm().
#pragma once

#include "evaclip/ops/cpu/add_layernorm.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// The two results of add_layernorm, both (..., C).
struct AddNorm {
  Var sum;  // x + r: the residual stream
  Var y;    // LayerNorm(sum)
};

// x, r: (..., C), the same shape; w: (C,); b: (C,) or an undefined Var (no bias).
template <class P, class B>
AddNorm add_layernorm(Tape<P, B>& tape, const Var& x, const Var& r, const Var& w, const Var& b, double eps) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "add_layernorm", "x", x);
  check_arg(tape, "add_layernorm", "r", r);
  check_arg(tape, "add_layernorm", "weight", w);
  EVACLIP_CHECK(!x.shape().empty(), "add_layernorm: x must have at least one dimension");
  check_shape("add_layernorm", "r", r, x.shape());
  const std::int64_t C = x.shape().back(), R = rows_of(x.shape());
  check_shape("add_layernorm", "weight", w, {C});
  if (b.defined()) {
    check_arg(tape, "add_layernorm", "bias", b);
    check_shape("add_layernorm", "bias", b, {C});
  }
  Tensor sum = new_act(tape, x.shape()), y = new_act(tape, x.shape());
  Tensor mean = new_compute(tape, {R}), rstd = new_compute(tape, {R});
  add_layernorm_forward<Acc>(tape.backend, sum.data<T>(), y.data<T>(), mean.data<Acc>(), rstd.data<Acc>(),
                             x.value().data<T>(), r.value().data<T>(), w.value().data<T>(), data_or_null<T>(b), R, C,
                             eps);
  AddNorm out{make_result(tape, sum, x, r), make_result(tape, y, x, r, w, b)};
  if (!out.y.requires_grad()) return out;  // y depends on every input, so nothing needs a backward
  // Two outputs, so the one-output differentiable() does not fit; Grads still allocates and accumulates.
  tape.record([=, backend = tape.backend, s = out.sum, o = out.y] {
    if (!s.has_grad() && !o.has_grad()) return;
    Grads<P, B, 4> g({x, r, w, b});
    if (!o.has_grad()) g.drop(2), g.drop(3);  // w and b reach only y
    const Tensor ds = s.has_grad() ? s.grad().to(P::act_dtype) : Tensor();
    const Tensor dy = o.has_grad() ? o.grad().to(P::act_dtype) : Tensor();
    add_layernorm_backward<Acc>(backend, g[0], g[1], g[2], g[3], data_or_null<T>(ds), data_or_null<T>(dy),
                                sum.data<T>(), w.value().data<T>(), mean.data<Acc>(), rstd.data<Acc>(), R, C);
    g.accumulate();
  });
  return out;
}

}  // namespace evaclip
