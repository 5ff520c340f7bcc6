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
                         w.value().data<T>(), b.defined() ? b.value().data<T>() : nullptr, R, C, eps);
  Var out = make_result(tape, y, x, w, b);
  if (!out.requires_grad()) return out;
  tape.record([=, backend = tape.backend] {
    if (!out.has_grad()) return;
    Tensor dx = grad_buffer<P, B>(x);
    Tensor dw = grad_buffer<P, B>(w);
    Tensor db = grad_buffer<P, B>(b);
    const Tensor dy = out.grad().to(P::act_dtype);
    layernorm_backward<Acc>(backend, data_or_null<T>(dx), data_or_null<T>(dw),
                            data_or_null<T>(db), dy.data<T>(), x.value().data<T>(), w.value().data<T>(),
                            mean.data<Acc>(), rstd.data<Acc>(), R, C);
    accumulate_if(x, std::move(dx));
    accumulate_if(w, std::move(dw));
    accumulate_if(b, std::move(db));
  });
  return out;
}

}  // namespace evaclip
