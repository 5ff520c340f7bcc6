// elementwise.hpp (cpu) — defines add / mul / scale forward and backward: the CPU reference arithmetic.
//
// Broadcasting is "b repeats over the rows of a": a is viewed as (R, C) and b as (C,), which covers the
// residual add (R = 1), the bias and layer scale (C = D) and the positional embedding (C = T * D).
// Reductions over the repeated rows go through column_reduce, so gradients of b are bit-identical for
// any thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// Calls f(i) for i in [0, n); threads are used only when there is enough work to pay for them.
template <class F>
void for_each_element(std::int64_t n, F&& f) {
  parallel_for(n, f, std::int64_t(1) << 15);
}

// Writes sum over the R rows of f(r, j) (an Acc) into out (C,), converted to T.
template <class Acc, class T, class F>
void reduce_rows(T* out, std::int64_t R, std::int64_t C, F&& f) {
  std::vector<Acc> acc(static_cast<std::size_t>(C));
  column_reduce<Acc>(R, C, acc.data(), [&](std::int64_t r, Acc* a) {
    for (std::int64_t j = 0; j < C; ++j) a[j] += f(r, j);
  });
  for (std::int64_t j = 0; j < C; ++j) out[j] = convert<T>(acc[std::size_t(j)]);
}

// y = a + b;  y, a: (R, C); b: (C,).
template <class Acc, class T>
void add_forward(Backend, T* y, const T* a, const T* b, std::int64_t R, std::int64_t C) {
  for_each_element(R * C, [&](std::int64_t i) { y[i] = convert<T>(convert<Acc>(a[i]) + convert<Acc>(b[i % C])); });
}

// da = dy;  db = sum_r dy. Either output may be null (not wanted).
template <class Acc, class T>
void add_backward(Backend, T* da, T* db, const T* dy, std::int64_t R, std::int64_t C) {
  if (da) for_each_element(R * C, [&](std::int64_t i) { da[i] = dy[i]; });
  if (db) reduce_rows<Acc>(db, R, C, [&](std::int64_t r, std::int64_t j) { return convert<Acc>(dy[r * C + j]); });
}

// y = x * g;  y, x: (R, C); g: (C,).
template <class Acc, class T>
void mul_forward(Backend, T* y, const T* x, const T* g, std::int64_t R, std::int64_t C) {
  for_each_element(R * C, [&](std::int64_t i) { y[i] = convert<T>(convert<Acc>(x[i]) * convert<Acc>(g[i % C])); });
}

// dx = dy * g;  dg = sum_r dy * x. Either output may be null.
template <class Acc, class T>
void mul_backward(Backend, T* dx, T* dg, const T* dy, const T* x, const T* g, std::int64_t R, std::int64_t C) {
  if (dx) {
    for_each_element(R * C, [&](std::int64_t i) { dx[i] = convert<T>(convert<Acc>(dy[i]) * convert<Acc>(g[i % C])); });
  }
  if (dg) {
    reduce_rows<Acc>(dg, R, C, [&](std::int64_t r, std::int64_t j) {
      return convert<Acc>(dy[r * C + j]) * convert<Acc>(x[r * C + j]);
    });
  }
}

// y = s * x over n elements. Also the backward: dx = s * dy.
template <class Acc, class T>
void scale_forward(Backend, T* y, const T* x, double s, std::int64_t n) {
  const Acc sa = Acc(s);
  for_each_element(n, [&](std::int64_t i) { y[i] = convert<T>(sa * convert<Acc>(x[i])); });
}

}  // namespace evaclip::cpu
