// matmul.hpp — defines matmul(tape, a, b, trans_a, trans_b): batched matrix products, with backward.
#pragma once

#include "evaclip/ops/cpu/matmul.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// a: (..., M, K), or (..., K, M) when trans_a; b: (..., K, N), or (..., N, K) when trans_b, with the same
// leading dimensions as a, or 2-D and then shared by every item of a's batch. Returns (..., M, N).
template <class P, class B>
Var matmul(Tape<P, B>& tape, const Var& a, const Var& b, bool trans_a = false, bool trans_b = false) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "matmul", "a", a);
  check_arg(tape, "matmul", "b", b);
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const std::size_t ra = as.size(), rb = bs.size();
  EVACLIP_CHECK(ra >= 2 && rb >= 2, "matmul: a ", to_string(as), " and b ", to_string(bs), " must be at least 2-D");
  cpu::MatmulDims d;
  d.trans_a = trans_a, d.trans_b = trans_b;
  d.m = trans_a ? as[ra - 1] : as[ra - 2];
  d.k = trans_a ? as[ra - 2] : as[ra - 1];
  d.n = trans_b ? bs[rb - 2] : bs[rb - 1];
  d.broadcast_b = rb == 2 && ra > 2;
  const Shape batch(as.begin(), as.end() - 2);
  d.batch = numel(batch);
  EVACLIP_CHECK(d.broadcast_b || Shape(bs.begin(), bs.end() - 2) == batch, "matmul: a ", to_string(as), " and b ",
                to_string(bs), " have different batch dimensions (b must match a's or be 2-D)");
  const std::int64_t bk = trans_b ? bs[rb - 1] : bs[rb - 2];
  EVACLIP_CHECK(bk == d.k, "matmul: inner dimensions differ: a ", to_string(as), (trans_a ? "^T" : ""), " times b ",
                to_string(bs), (trans_b ? "^T" : ""));
  Shape cs = batch;
  cs.push_back(d.m);
  cs.push_back(d.n);
  Tensor c = new_act(tape, cs);
  matmul_forward<Acc>(tape.backend, c.data<T>(), a.value().data<T>(), b.value().data<T>(), d);
  return differentiable(tape, c, {a, b}, [=](const auto& be, auto& g, const T* dc) {
    matmul_backward<Acc>(be, g[0], g[1], dc, a.value().data<T>(), b.value().data<T>(), d);
  });
}

}  // namespace evaclip
