// l2_normalize.hpp (cpu) — defines l2_normalize_forward / l2_normalize_backward: rows scaled to unit length.
//
// As torch.nn.functional.normalize(x, dim=-1): y = x / max(||x||, eps). The row norms are saved in the
// compute type for the backward. Where ||x|| >= eps (torch's clamp_min passes the gradient at equality)
//   dx = (dy - (dy · y) y) / ||x||,
// the projection of dy off the direction of x; where ||x|| < eps the divisor is the constant eps: dx = dy / eps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// y: (R, C); norm: (R,); x: (R, C).
template <class Acc, class T>
void l2_normalize_forward(Backend, T* y, Acc* norm, const T* x, std::int64_t R, std::int64_t C, double eps) {
  parallel_ranges(R, 2 * C, [&](std::int64_t r_begin, std::int64_t r_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      const T* xr = x + r * C;
      Acc ss = 0;
      for (std::int64_t j = 0; j < C; ++j) ss += convert<Acc>(xr[j]) * convert<Acc>(xr[j]);
      norm[r] = std::sqrt(ss);
      const Acc inv = Acc(1) / std::max(norm[r], Acc(eps));
      for (std::int64_t j = 0; j < C; ++j) y[r * C + j] = convert<T>(convert<Acc>(xr[j]) * inv);
    }
  });
}

// dx: (R, C), overwritten; dy, x: (R, C); norm: (R,) from the forward.
template <class Acc, class T>
void l2_normalize_backward(Backend, T* dx, const T* dy, const T* x, const Acc* norm, std::int64_t R, std::int64_t C,
                           double eps) {
  parallel_ranges(R, 2 * C, [&](std::int64_t r_begin, std::int64_t r_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      const T* xr = x + r * C;
      const T* gr = dy + r * C;
      if (norm[r] < Acc(eps)) {
        for (std::int64_t j = 0; j < C; ++j) dx[r * C + j] = convert<T>(convert<Acc>(gr[j]) / Acc(eps));
        continue;
      }
      const Acc inv = Acc(1) / norm[r];
      Acc gy = 0;  // dy · y
      for (std::int64_t j = 0; j < C; ++j) gy += convert<Acc>(gr[j]) * convert<Acc>(xr[j]) * inv;
      for (std::int64_t j = 0; j < C; ++j)
        dx[r * C + j] = convert<T>((convert<Acc>(gr[j]) - gy * convert<Acc>(xr[j]) * inv) * inv);
    }
  });
}

}  // namespace evaclip::cpu
