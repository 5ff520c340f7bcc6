// swiglu_layernorm.hpp — defines swiglu_layernorm(tape, gate, value, w, b, eps) = LayerNorm(silu(gate) * value):
// EVA02's SwiGLU with its inner ffn_ln, with backward. The result is bit-identical to swiglu() followed by
// layernorm(); the backward recomputes the (..., F) product instead of saving it.
#pragma once

#include "evaclip/ops/cpu/swiglu_layernorm.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// gate, value: (..., F), the same shape; w: (F,); b: (F,) or an undefined Var (no bias). Returns (..., F).
template <class P, class B>
Var swiglu_layernorm(Tape<P, B>& tape, const Var& gate, const Var& value, const Var& w, const Var& b, double eps) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "swiglu_layernorm", "gate", gate);
  check_arg(tape, "swiglu_layernorm", "value", value);
  check_arg(tape, "swiglu_layernorm", "weight", w);
  EVACLIP_CHECK(!gate.shape().empty(), "swiglu_layernorm: gate must have at least one dimension");
  check_shape("swiglu_layernorm", "value", value, gate.shape());
  const std::int64_t F = gate.shape().back(), R = rows_of(gate.shape());
  check_shape("swiglu_layernorm", "weight", w, {F});
  if (b.defined()) {
    check_arg(tape, "swiglu_layernorm", "bias", b);
    check_shape("swiglu_layernorm", "bias", b, {F});
  }
  Tensor y = new_act(tape, gate.shape()), mean = new_compute(tape, {R}), rstd = new_compute(tape, {R});
  swiglu_layernorm_forward<Acc>(tape.backend, y.data<T>(), mean.data<Acc>(), rstd.data<Acc>(), gate.value().data<T>(),
                                value.value().data<T>(), w.value().data<T>(), data_or_null<T>(b), R, F, eps);
  return differentiable(tape, y, {gate, value, w, b}, [=](const auto& be, auto& g, const T* dy) {
    swiglu_layernorm_backward<Acc>(be, g[0], g[1], g[2], g[3], dy, gate.value().data<T>(), value.value().data<T>(),
                                   w.value().data<T>(), mean.data<Acc>(), rstd.data<Acc>(), R, F);
  });
}

}  // namespace evaclip
