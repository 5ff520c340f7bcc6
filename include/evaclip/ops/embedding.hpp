// embedding.hpp — defines embedding(tape, table, ids): table rows looked up by integer ids, with backward.
//
// A lookup is a row gather from one (V, D) table, so it runs the gather_rows kernels with a batch of 1;
// their backward sums repeated ids deterministically (no atomics), whatever the thread count.
#pragma once

#include "evaclip/ops/gather_rows.hpp"

namespace evaclip {

// table: (V, D); ids: i64 of any shape S with values in [0, V). Returns (S..., D).
// ids must not be modified before backward (it is read again there).
template <class P, class B>
Var embedding(Tape<P, B>& tape, const Var& table, const Tensor& ids) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "embedding", "table", table);
  EVACLIP_CHECK(table.shape().size() == 2, "embedding: table has shape ", to_string(table.shape()),
                ", expected (V, D)");
  const std::int64_t V = table.shape()[0], D = table.shape()[1];
  check_indices(tape, "embedding", "ids", ids, V);
  const std::int64_t n = ids.numel();
  Shape shape = ids.shape();
  shape.push_back(D);
  Tensor y = new_act(tape, shape);
  gather_rows_forward<Acc>(tape.backend, y.data<T>(), table.value().data<T>(), ids.data<std::int64_t>(), 1, V, n, D);
  return differentiable(tape, y, {table}, [=](const auto& be, auto& g, const T* dy) {
    gather_rows_backward<Acc>(be, g[0], dy, ids.data<std::int64_t>(), 1, V, n, D);
  });
}

}  // namespace evaclip
