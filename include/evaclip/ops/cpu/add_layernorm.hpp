// add_layernorm.hpp (cpu) — defines add_layernorm_forward / add_layernorm_backward: the residual add fused
// with the LayerNorm of its result.
//
// sum = x + r is the residual stream, rounded to T as add() stores it; y = LN(sum) is computed from that
// rounded sum. Both are computed by the add and LayerNorm kernels themselves, so the results are
// bit-identical to add() followed by layernorm(). Backward: sum feeds both the next residual add and y, so
// d_sum_total = d_sum + LN-backward(dy) and dx = dr = d_sum_total; dw, db as layernorm_backward.
#pragma once

#include <algorithm>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/elementwise.hpp"
#include "evaclip/ops/cpu/layernorm.hpp"

namespace evaclip::cpu {

// sum, y: (R, C); mean, rstd: (R,); x, r: (R, C); w, b: (C,), b may be null.
template <class Acc, class T>
void add_layernorm_forward(Backend be, T* sum, T* y, Acc* mean, Acc* rstd, const T* x, const T* r, const T* w,
                           const T* b, std::int64_t R, std::int64_t C, double eps) {
  add_forward<Acc>(be, sum, x, r, std::int64_t(1), R * C);  // same shapes: one "row" of R * C
  layernorm_forward<Acc>(be, y, mean, rstd, sum, w, b, R, C, eps);
}

// d_sum, dy: the gradients of sum and y, (R, C); either may be null (that output got no gradient).
// dx, dr: (R, C), dw, db: (C,); any may be null (not wanted); all are overwritten. sum, mean, rstd: the forward's.
template <class Acc, class T>
void add_layernorm_backward(Backend be, T* dx, T* dr, T* dw, T* db, const T* d_sum, const T* dy, const T* sum,
                            const T* w, const Acc* mean, const Acc* rstd, std::int64_t R, std::int64_t C) {
  const std::int64_t n = R * C;
  T* d = dx ? dx : dr;  // the first wanted input gradient receives d_sum_total, the other is its copy
  if (dy) {
    layernorm_backward<Acc>(be, d, dw, db, dy, sum, w, mean, rstd, R, C);
    if (d && d_sum)
      for_each_element(n, [&](std::int64_t i) { d[i] = convert<T>(convert<Acc>(d[i]) + convert<Acc>(d_sum[i])); });
  } else {
    if (d) for_each_element(n, [&](std::int64_t i) { d[i] = d_sum ? d_sum[i] : T{}; });
    if (dw) std::fill(dw, dw + C, T{});
    if (db) std::fill(db, db + C, T{});
  }
  if (dx && dr) for_each_element(n, [&](std::int64_t i) { dr[i] = dx[i]; });
}

}  // namespace evaclip::cpu
