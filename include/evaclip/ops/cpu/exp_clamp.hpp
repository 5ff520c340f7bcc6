// exp_clamp.hpp (cpu) — defines exp_clamp_forward / exp_clamp_backward: y = exp(clamp(x, lo, hi)).
//
// Boundary convention (as torch.clamp): the gradient passes where lo <= x <= hi, boundaries included, and
// is 0 strictly outside. The backward recomputes exp(x) in Acc rather than reading the (possibly 16-bit) y.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/elementwise.hpp"  // for_each_element

namespace evaclip::cpu {

// y = exp(clamp(x, lo, hi)) over n elements.
template <class Acc, class T>
void exp_clamp_forward(Backend, T* y, const T* x, std::int64_t n, double lo, double hi) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = std::clamp(convert<Acc>(x[i]), Acc(lo), Acc(hi));
    y[i] = convert<T>(std::exp(v));
  });
}

// dx = dy * exp(x) where lo <= x <= hi, else 0.
template <class Acc, class T>
void exp_clamp_backward(Backend, T* dx, const T* dy, const T* x, std::int64_t n, double lo, double hi) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = convert<Acc>(x[i]);
    const bool inside = Acc(lo) <= v && v <= Acc(hi);
    dx[i] = convert<T>(inside ? convert<Acc>(dy[i]) * std::exp(v) : Acc(0));
  });
}

}  // namespace evaclip::cpu
