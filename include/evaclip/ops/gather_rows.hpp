// gather_rows.hpp — defines gather_rows(tape, x, idx): per-sample row selection with backward, and
// check_indices, the validation shared by every op that takes an index tensor.
//
// Uses: FLIP patch dropout keeps K token rows per sample (idx (B, K)); text EOT pooling takes one row per
// sample (idx (B, 1) = argmax of the ids, then reshape to (B, D)). Repeated indices are allowed and their
// gradients add up.
#pragma once

#include <sstream>

#include "evaclip/ops/cpu/gather_rows.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// Throws "<op>: <arg>[i, j] = v is out of range [0, limit)" for the first bad index, after checking that
// `ids` is a contiguous i64 tensor on the tape's device.
template <class P, class B>
void check_indices(const Tape<P, B>&, const char* op, const char* arg, const Tensor& ids, std::int64_t limit) {
  EVACLIP_CHECK(ids.defined(), op, ": ", arg, " is undefined");
  EVACLIP_CHECK(ids.dtype() == DType::i64, op, ": ", arg, " ", to_string(ids.shape()), " is ", dtype_name(ids.dtype()),
                ", expected i64");
  EVACLIP_CHECK(ids.device() == B::device, op, ": ", arg, " ", to_string(ids.shape()), " is on ",
                device_name(ids.device()), " but the tape runs on ", device_name(B::device));
  EVACLIP_CHECK(ids.is_contiguous(), op, ": ", arg, " ", to_string(ids.shape()), " must be contiguous");
  const Tensor host = ids.to(Device::cpu);
  const std::int64_t* p = host.data<std::int64_t>();
  for (std::int64_t i = 0; i < host.numel(); ++i) {
    if (p[i] >= 0 && p[i] < limit) continue;
    std::ostringstream pos;  // the multi-index of flat position i
    std::int64_t rem = i;
    const Strides st = contiguous_strides(ids.shape());
    for (std::size_t d = 0; d < st.size(); ++d) {
      pos << (d ? ", " : "") << rem / st[d];
      rem %= st[d];
    }
    fail(op, ": ", arg, "[", pos.str(), "] = ", p[i], " is out of range [0, ", limit, ")");
  }
}

// x: (B, T, D); idx: i64 (B, K) with values in [0, T). Returns y (B, K, D) with y[b, k] = x[b, idx[b, k]].
// idx must not be modified before backward (it is read again there).
template <class P, class B>
Var gather_rows(Tape<P, B>& tape, const Var& x, const Tensor& idx) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "gather_rows", "x", x);
  EVACLIP_CHECK(x.shape().size() == 3, "gather_rows: x has shape ", to_string(x.shape()), ", expected (B, T, D)");
  const std::int64_t batch = x.shape()[0], rows = x.shape()[1], D = x.shape()[2];
  EVACLIP_CHECK(idx.shape().size() == 2 && idx.shape()[0] == batch, "gather_rows: idx has shape ",
                to_string(idx.shape()), ", expected (B, K) with B = ", batch, " for x ", to_string(x.shape()));
  check_indices(tape, "gather_rows", "idx", idx, rows);
  const std::int64_t K = idx.shape()[1];
  Tensor y = new_act(tape, {batch, K, D});
  gather_rows_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), idx.data<std::int64_t>(), batch, rows, K, D);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {
    gather_rows_backward<Acc>(be, g[0], dy, idx.data<std::int64_t>(), batch, rows, K, D);
  });
}

}  // namespace evaclip
