// matmul.hpp (cpu) — defines matmul_forward / matmul_backward: batched C = op(A) op(B) through cpu::gemm.
//
// op(A) is (M, K): A is stored (M, K), or (K, M) when trans_a. op(B) is (K, N): B is stored (K, N), or
// (N, K) when trans_b. B is either batched like A or one matrix shared by the whole batch (broadcast_b).
#pragma once

#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

struct MatmulDims {
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false, broadcast_b = false;
};

namespace detail {
// Shape of the product x y over the batch, where x, y are stored with the given transposes; x and y are
// batch-strided by their stored size unless their batch stride is forced to 0 (a shared matrix).
inline GemmShape batched(bool tx, bool ty, std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                         bool x_shared = false, bool y_shared = false) {
  GemmShape s;
  s.trans_a = tx, s.trans_b = ty;
  s.m = m, s.n = n, s.k = k, s.batch = batch;
  s.stride_a = x_shared ? 0 : m * k;
  s.stride_b = y_shared ? 0 : k * n;
  s.stride_c = m * n;
  return s;
}
}  // namespace detail

// c: (batch, M, N); a: (batch, M, K) or (batch, K, M); b: (batch|1, K, N) or (batch|1, N, K).
template <class Acc, class T>
void matmul_forward(Backend be, T* c, const T* a, const T* b, const MatmulDims& d) {
  const auto s = detail::batched(d.trans_a, d.trans_b, d.batch, d.m, d.n, d.k, false, d.broadcast_b);
  gemm(be, s, 1.0, a, b, 0.0, c);
}

// With C' = op(A) op(B):  d op(A) = dC op(B)^T,  d op(B) = op(A)^T dC; each is then stored transposed
// when its operand was. A shared B sums its gradient over the batch. Null outputs are skipped.
template <class Acc, class T>
void matmul_backward(Backend be, T* da, T* db, const T* dc, const T* a, const T* b, const MatmulDims& d) {
  const std::int64_t M = d.m, N = d.n, K = d.k, nb = d.batch;
  if (da) {
    if (!d.trans_a)  // dA (M, K) = dC (M, N) op(B)^T
      gemm(be, detail::batched(false, !d.trans_b, nb, M, K, N, false, d.broadcast_b), 1.0, dc, b, 0.0, da);
    else  // dA (K, M) = op(B) (K, N) dC^T
      gemm(be, detail::batched(d.trans_b, true, nb, K, M, N, d.broadcast_b, false), 1.0, b, dc, 0.0, da);
  }
  if (!db) return;
  if (d.broadcast_b && !d.trans_a) {
    // The batch stacks along M, so one GEMM over batch*M rows sums the per-item gradients.
    if (!d.trans_b)  // dB (K, N) = A^T (K, bM) dC (bM, N)
      gemm(be, detail::batched(true, false, 1, K, N, nb * M), 1.0, a, dc, 0.0, db);
    else  // dB (N, K) = dC^T (N, bM) A (bM, K)
      gemm(be, detail::batched(true, false, 1, N, K, nb * M), 1.0, dc, a, 0.0, db);
    return;
  }
  // Per-item gradients; a shared B then sums them in Acc, in batch order (deterministic).
  std::vector<T> scratch(d.broadcast_b ? std::size_t(nb * K * N) : 0);
  T* out = d.broadcast_b ? scratch.data() : db;
  if (!d.trans_b)  // dB (K, N) = op(A)^T dC
    gemm(be, detail::batched(!d.trans_a, false, nb, K, N, M), 1.0, a, dc, 0.0, out);
  else  // dB (N, K) = dC^T op(A)
    gemm(be, detail::batched(true, d.trans_a, nb, N, K, M), 1.0, dc, a, 0.0, out);
  if (!d.broadcast_b) return;
  std::vector<Acc> acc(std::size_t(K * N));
  column_reduce<Acc>(nb, K * N, acc.data(), [&](std::int64_t i, Acc* s) {
    for (std::int64_t j = 0; j < K * N; ++j) s[j] += convert<Acc>(out[i * K * N + j]);
  });
  for (std::int64_t j = 0; j < K * N; ++j) db[j] = convert<T>(acc[std::size_t(j)]);
}

}  // namespace evaclip::cpu
