// drop_path.hpp (cpu) — defines drop_path_forward / drop_path_backward: every sample's values times that
// sample's factor (drop path keeps or zeroes a whole residual branch per sample).
#pragma once

#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/elementwise.hpp"

namespace evaclip::cpu {

// y[b, i] = x[b, i] * scale[b];  y, x: (B, n); scale: (B,).
template <class Acc, class T>
void drop_path_forward(Backend, T* y, const T* x, const Acc* scale, std::int64_t B, std::int64_t n) {
  for_each_element(B * n, [&](std::int64_t i) { y[i] = convert<T>(convert<Acc>(x[i]) * scale[i / n]); });
}

// dx[b, i] = dy[b, i] * scale[b]: the map is linear in x with a diagonal matrix.
template <class Acc, class T>
void drop_path_backward(Backend backend, T* dx, const T* dy, const Acc* scale, std::int64_t B, std::int64_t n) {
  drop_path_forward<Acc>(backend, dx, dy, scale, B, n);
}

}  // namespace evaclip::cpu
