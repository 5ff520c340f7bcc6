// layernorm.hpp (cpu) — defines layernorm_forward / layernorm_backward: the CPU reference LayerNorm.
//
// Over the last dimension of x (R rows of C): y = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps),
// biased variance (as torch). mean and rstd are saved in the compute type for the backward.
#pragma once

#include <cmath>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// y: (R, C); mean, rstd: (R,); x: (R, C); w, b: (C,), b may be null.
template <class Acc, class T>
void layernorm_forward(Backend, T* y, Acc* mean, Acc* rstd, const T* x, const T* w, const T* b, std::int64_t R,
                       std::int64_t C, double eps) {
  parallel_for(R, [&](std::int64_t r) {
    const T* xr = x + r * C;
    Acc m = 0;
    for (std::int64_t j = 0; j < C; ++j) m += convert<Acc>(xr[j]);
    m /= Acc(C);
    Acc v = 0;  // two-pass variance: no cancellation for large means
    for (std::int64_t j = 0; j < C; ++j) {
      const Acc d = convert<Acc>(xr[j]) - m;
      v += d * d;
    }
    const Acc rs = Acc(1) / std::sqrt(v / Acc(C) + Acc(eps));
    mean[r] = m;
    rstd[r] = rs;
    T* yr = y + r * C;
    for (std::int64_t j = 0; j < C; ++j) {
      const Acc xh = (convert<Acc>(xr[j]) - m) * rs;
      yr[j] = convert<T>(xh * convert<Acc>(w[j]) + (b ? convert<Acc>(b[j]) : Acc(0)));
    }
  });
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w;  dw = sum_r dy * xhat;  db = sum_r dy.
// Any of dx, dw, db may be null (not wanted). All outputs are overwritten.
template <class Acc, class T>
void layernorm_backward(Backend, T* dx, T* dw, T* db, const T* dy, const T* x, const T* w, const Acc* mean,
                        const Acc* rstd, std::int64_t R, std::int64_t C) {
  if (dx) {
    parallel_for(R, [&](std::int64_t r) {
      const T* xr = x + r * C;
      const T* gr = dy + r * C;
      Acc sg = 0, sgx = 0;
      for (std::int64_t j = 0; j < C; ++j) {
        const Acc g = convert<Acc>(gr[j]) * convert<Acc>(w[j]);
        sg += g;
        sgx += g * (convert<Acc>(xr[j]) - mean[r]) * rstd[r];
      }
      sg /= Acc(C);
      sgx /= Acc(C);
      for (std::int64_t j = 0; j < C; ++j) {
        const Acc g = convert<Acc>(gr[j]) * convert<Acc>(w[j]);
        const Acc xh = (convert<Acc>(xr[j]) - mean[r]) * rstd[r];
        dx[r * C + j] = convert<T>(rstd[r] * (g - sg - xh * sgx));
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
