// l2_normalize.hpp — defines l2_normalize(tape, x, eps): x / max(||x||, eps) over the last dimension, with backward.
#pragma once

#include "evaclip/ops/cpu/l2_normalize.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: (..., C). Returns (..., C) with every row of unit length (as torch.nn.functional.normalize(x, dim=-1)).
template <class P, class B>
Var l2_normalize(Tape<P, B>& tape, const Var& x, double eps = 1e-12) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "l2_normalize", "x", x);
  EVACLIP_CHECK(!x.shape().empty() && x.shape().back() > 0, "l2_normalize: x ", to_string(x.shape()),
                " must have a non-empty last dimension");
  const std::int64_t C = x.shape().back(), R = rows_of(x.shape());
  Tensor y = new_act(tape, x.shape()), norm = new_compute(tape, {R});
  l2_normalize_forward<Acc>(tape.backend, y.data<T>(), norm.data<Acc>(), x.value().data<T>(), R, C, eps);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {
    l2_normalize_backward<Acc>(be, g[0], dy, x.value().data<T>(), norm.data<Acc>(), R, C, eps);
  });
}

}  // namespace evaclip
