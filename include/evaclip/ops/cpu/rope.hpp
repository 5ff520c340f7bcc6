// rope.hpp (cpu) — defines rope2d_forward / rope2d_backward: rotary embedding of adjacent pairs (GPT-J style).
//
// For token t >= prefix, with c = cos[t - prefix] and s = sin[t - prefix] (rows of hd values):
//   y[2j]   = x[2j]   c[2j]   - x[2j+1] s[2j]
//   y[2j+1] = x[2j+1] c[2j+1] + x[2j]   s[2j+1]
// which is the official x·cos + rotate_half_adjacent(x)·sin. Tokens t < prefix (CLS) are copied.
// The backward applies the transpose of that 2x2 matrix.
#pragma once

#include <algorithm>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// y, x: (B, H, L, hd) with L tokens; cos, sin: (L - prefix, hd), or (B, L - prefix, hd) when per_sample.
template <class Acc, class T>
void rope2d_forward(Backend, T* y, const T* x, const Acc* cos, const Acc* sin, std::int64_t B, std::int64_t H,
                    std::int64_t L, std::int64_t hd, std::int64_t prefix, bool per_sample) {
  const std::int64_t table_stride = per_sample ? (L - prefix) * hd : 0;  // between samples
  parallel_ranges(B * H * L, hd, [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t row = row_begin; row < row_end; ++row) {
      const std::int64_t b = row / (H * L), t = row % L;
      const T* xr = x + row * hd;
      T* yr = y + row * hd;
      if (t < prefix) {
        std::copy(xr, xr + hd, yr);
        continue;
      }
      const Acc* c = cos + b * table_stride + (t - prefix) * hd;
      const Acc* s = sin + b * table_stride + (t - prefix) * hd;
      for (std::int64_t i = 0; i < hd; i += 2) {
        const Acc x0 = convert<Acc>(xr[i]), x1 = convert<Acc>(xr[i + 1]);
        yr[i] = convert<T>(x0 * c[i] - x1 * s[i]);
        yr[i + 1] = convert<T>(x1 * c[i + 1] + x0 * s[i + 1]);
      }
    }
  });
}

// dx = Rᵀ dy per pair: dx[2j] = dy[2j] c[2j] + dy[2j+1] s[2j+1];  dx[2j+1] = dy[2j+1] c[2j+1] - dy[2j] s[2j].
template <class Acc, class T>
void rope2d_backward(Backend, T* dx, const T* dy, const Acc* cos, const Acc* sin, std::int64_t B, std::int64_t H,
                     std::int64_t L, std::int64_t hd, std::int64_t prefix, bool per_sample) {
  const std::int64_t table_stride = per_sample ? (L - prefix) * hd : 0;
  parallel_ranges(B * H * L, hd, [&](std::int64_t row_begin, std::int64_t row_end) {
    for (std::int64_t row = row_begin; row < row_end; ++row) {
      const std::int64_t b = row / (H * L), t = row % L;
      const T* gr = dy + row * hd;
      T* dr = dx + row * hd;
      if (t < prefix) {
        std::copy(gr, gr + hd, dr);
        continue;
      }
      const Acc* c = cos + b * table_stride + (t - prefix) * hd;
      const Acc* s = sin + b * table_stride + (t - prefix) * hd;
      for (std::int64_t i = 0; i < hd; i += 2) {
        const Acc g0 = convert<Acc>(gr[i]), g1 = convert<Acc>(gr[i + 1]);
        dr[i] = convert<T>(g0 * c[i] + g1 * s[i + 1]);
        dr[i + 1] = convert<T>(g1 * c[i + 1] - g0 * s[i]);
      }
    }
  });
}

}  // namespace evaclip::cpu
