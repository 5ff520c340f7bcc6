// linear.hpp (cpu) — defines linear_forward / linear_backward: the CPU reference of y = x W^T + b.
//
// W is stored (out, in) as torch's nn.Linear. Every product goes through cpu::gemm; the bias is folded
// into the forward GEMM (y starts as b, beta = 1) so 16-bit outputs are rounded once, not twice.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// y: (R, N); x: (R, K); w: (N, K); b: (N,) or null.
template <class Acc, class T>
void linear_forward(Backend be, T* y, const T* x, const T* w, const T* b, std::int64_t R, std::int64_t K,
                    std::int64_t N) {
  if (b)
    parallel_ranges(R, N, [&](std::int64_t r_begin, std::int64_t r_end) {
      for (std::int64_t r = r_begin; r < r_end; ++r) {
        std::copy(b, b + N, y + r * N);
      }
    });
  GemmShape s;
  s.trans_b = true;  // x (R, K) times w^T (K, N)
  s.m = R, s.n = N, s.k = K;
  gemm(be, s, 1.0, x, w, b ? 1.0 : 0.0, y);
}

// dx = dy W (R, K);  dw = dy^T x (N, K);  db = sum_r dy (N,). Null outputs are skipped; all are overwritten.
template <class Acc, class T>
void linear_backward(Backend be, T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, std::int64_t R,
                     std::int64_t K, std::int64_t N) {
  if (dx) {
    GemmShape s;
    s.m = R, s.n = K, s.k = N;
    gemm(be, s, 1.0, dy, w, 0.0, dx);
  }
  if (dw) {
    GemmShape s;
    s.trans_a = true;  // dy^T: dy is stored (R, N)
    s.m = N, s.n = K, s.k = R;
    gemm(be, s, 1.0, dy, x, 0.0, dw);
  }
  if (db) {
    std::vector<Acc> acc(static_cast<std::size_t>(N));
    column_reduce<Acc>(R, N, acc.data(), [&](std::int64_t r, Acc* a) {
      for (std::int64_t j = 0; j < N; ++j) a[j] += convert<Acc>(dy[r * N + j]);
    });
    for (std::int64_t j = 0; j < N; ++j) db[j] = convert<T>(acc[std::size_t(j)]);
  }
}

}  // namespace evaclip::cpu
