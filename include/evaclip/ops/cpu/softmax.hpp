// softmax.hpp (cpu) — defines softmax_forward / softmax_backward: softmax over the last dimension.
//
// y = exp(x - max) / sum exp(x - max): subtracting the row maximum keeps exp() from overflowing and
// changes nothing mathematically. The backward needs only y, which the op saves.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"
#include "evaclip/ops/cpu/vector_math.hpp"

namespace evaclip::cpu {

// y, x: (R, C).
template <class Acc, class T>
void softmax_forward(Backend, T* y, const T* x, std::int64_t R, std::int64_t C) {
  parallel_ranges(R, 4 * C, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<Acc> e(static_cast<std::size_t>(C));
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * C;
      T* yr = y + r * C;
      const Acc mx = vec::max<Acc>(xr, C);
#pragma omp simd
      for (std::int64_t j = 0; j < C; ++j) e[std::size_t(j)] = vec::exp(convert<Acc>(xr[j]) - mx);
      const Acc inv = Acc(1) / vec::sum<Acc>(e.data(), C);
#pragma omp simd
      for (std::int64_t j = 0; j < C; ++j) yr[j] = convert<T>(e[std::size_t(j)] * inv);
    }
  });
}

// dx = y * (dy - sum_j dy_j y_j), row by row. dx is overwritten.
template <class Acc, class T>
void softmax_backward(Backend, T* dx, const T* dy, const T* y, std::int64_t R, std::int64_t C) {
  parallel_ranges(R, 2 * C, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* gr = dy + r * C;
      const T* yr = y + r * C;
      const Acc dot = vec::dot<Acc>(gr, yr, C);
      T* dr = dx + r * C;
#pragma omp simd
      for (std::int64_t j = 0; j < C; ++j) dr[j] = convert<T>(convert<Acc>(yr[j]) * (convert<Acc>(gr[j]) - dot));
    }
  });
}

}  // namespace evaclip::cpu
