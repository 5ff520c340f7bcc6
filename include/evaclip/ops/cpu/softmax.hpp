// softmax.hpp (cpu) — defines softmax_forward / softmax_backward: softmax over the last dimension.
//
// y = exp(x - max) / sum exp(x - max): subtracting the row maximum keeps exp() from overflowing and
// changes nothing mathematically. The backward needs only y, which the op saves.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// y, x: (R, C).
template <class Acc, class T>
void softmax_forward(Backend, T* y, const T* x, std::int64_t R, std::int64_t C) {
  parallel_for(R, [&](std::int64_t r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    Acc mx = -INFINITY;
    for (std::int64_t j = 0; j < C; ++j) mx = std::max(mx, convert<Acc>(xr[j]));
    Acc sum = 0;
    for (std::int64_t j = 0; j < C; ++j) sum += std::exp(convert<Acc>(xr[j]) - mx);
    const Acc inv = Acc(1) / sum;
    for (std::int64_t j = 0; j < C; ++j) yr[j] = convert<T>(std::exp(convert<Acc>(xr[j]) - mx) * inv);
  });
}

// dx = y * (dy - sum_j dy_j y_j), row by row. dx is overwritten.
template <class Acc, class T>
void softmax_backward(Backend, T* dx, const T* dy, const T* y, std::int64_t R, std::int64_t C) {
  parallel_for(R, [&](std::int64_t r) {
    const T* gr = dy + r * C;
    const T* yr = y + r * C;
    Acc dot = 0;
    for (std::int64_t j = 0; j < C; ++j) dot += convert<Acc>(gr[j]) * convert<Acc>(yr[j]);
    for (std::int64_t j = 0; j < C; ++j) dx[r * C + j] = convert<T>(convert<Acc>(yr[j]) * (convert<Acc>(gr[j]) - dot));
  });
}

}  // namespace evaclip::cpu
