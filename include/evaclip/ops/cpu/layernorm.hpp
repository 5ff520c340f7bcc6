// layernorm.hpp (cpu) — defines layernorm_forward / layernorm_backward: the CPU reference LayerNorm.
//
// Over the last dimension of x (R rows of C): y = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps),
// biased variance (as torch). mean and rstd are saved in the compute type for the backward.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"
#include "evaclip/ops/cpu/vector_math.hpp"

namespace evaclip::cpu {

// y: (R, C); mean, rstd: (R,); x: (R, C); w, b: (C,), b may be null.
template <class Acc, class T>
void layernorm_forward(Backend, T* y, Acc* mean, Acc* rstd, const T* x, const T* w, const T* b, std::int64_t R,
                       std::int64_t C, double eps) {
  parallel_ranges(R, 4 * C, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * C;
      const Acc m = vec::sum<Acc>(xr, C) / Acc(C);
      const Acc var = vec::sum_sq_dev<Acc>(xr, C, m) / Acc(C);  // two-pass: no cancellation for large means
      const Acc rs = Acc(1) / std::sqrt(var + Acc(eps));
      mean[r] = m;
      rstd[r] = rs;
      T* yr = y + r * C;
      if (b) {
#pragma omp simd
        for (std::int64_t j = 0; j < C; ++j)
          yr[j] = convert<T>((convert<Acc>(xr[j]) - m) * rs * convert<Acc>(w[j]) + convert<Acc>(b[j]));
      } else {
#pragma omp simd
        for (std::int64_t j = 0; j < C; ++j) yr[j] = convert<T>((convert<Acc>(xr[j]) - m) * rs * convert<Acc>(w[j]));
      }
    }
  });
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w;  dw = sum_r dy * xhat;  db = sum_r dy.
// Any of dx, dw, db may be null (not wanted). All outputs are overwritten.
template <class Acc, class T>
void layernorm_backward(Backend, T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const Acc* mean,
                        const Acc* rstd, std::int64_t R, std::int64_t C) {
  if (dx) {
    parallel_ranges(R, 6 * C, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T* gr = dy + r * C;
        const Acc mr = mean[r], rs = rstd[r];
        const Acc sg = vec::dot<Acc>(gr, w, C) / Acc(C);  // mean of g = dy * w
        const Acc sgx =
            vec::blocked_sum<Acc>(C,
                                  [&](std::int64_t j) {  // mean of g * xhat
                                    return convert<Acc>(gr[j]) * convert<Acc>(w[j]) * ((convert<Acc>(xr[j]) - mr) * rs);
                                  }) /
            Acc(C);
        T* dr = dx + r * C;
#pragma omp simd
        for (std::int64_t j = 0; j < C; ++j) {
          const Acc g = convert<Acc>(gr[j]) * convert<Acc>(w[j]);
          const Acc xh = (convert<Acc>(xr[j]) - mr) * rs;
          dr[j] = convert<T>(rs * (g - sg - xh * sgx));
        }
      }
    });
  }
  if (dw || db) {
    std::vector<Acc> acc(std::size_t(2 * C));  // [dw | db]
    column_reduce<Acc>(R, 2 * C, acc.data(), [&](std::int64_t r, Acc* a) {
      for (std::int64_t j = 0; j < C; ++j) {
        const Acc g = convert<Acc>(dy[r * C + j]);
        a[j] += g * (convert<Acc>(x[r * C + j]) - mean[r]) * rstd[r];
        a[C + j] += g;
      }
    });
    for (std::int64_t j = 0; j < C; ++j) {
      if (dw) dw[j] = convert<T>(acc[std::size_t(j)]);
      if (db) db[j] = convert<T>(acc[std::size_t(C + j)]);
    }
  }
}

}  // namespace evaclip::cpu
