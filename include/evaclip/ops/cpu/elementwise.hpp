// elementwise.hpp (cpu) — defines add / mul / scale forward and backward: the CPU reference arithmetic.
//
// Broadcasting is "b repeats over the rows of a": a is viewed as (R, C) and b as (C,), which covers the
// residual add (R = 1), the bias and layer scale (C = D) and the positional embedding (C = T * D).
// Reductions over the repeated rows go through column_reduce, so gradients of b are bit-identical for
// any thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// Calls f(i) for i in [0, n): contiguous ranges per thread when there is enough work to pay for them, each
// a `simd` loop (f must be element-wise: no dependence between indices).
template <class F>
void for_each_element(std::int64_t n, F&& f) {
  parallel_ranges(n, 1, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) f(i);
  });
}

// Calls f(i, j0, len) for the pieces of [0, R·C) cut at row ends: row i / C from column j0 on, len values.
// Threads split the flat range, so one long row (R = 1) is split too.
template <class F>
void for_each_row_piece(std::int64_t R, std::int64_t C, F&& f) {
  parallel_ranges(R * C, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1;) {
      const std::int64_t j0 = i % C, len = std::min(i1 - i, C - j0);
      f(i, j0, len);
      i += len;
    }
  });
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
  for_each_row_piece(R, C, [&](std::int64_t i, std::int64_t j0, std::int64_t len) {
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) y[i + j] = convert<T>(convert<Acc>(a[i + j]) + convert<Acc>(b[j0 + j]));
  });
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
  for_each_row_piece(R, C, [&](std::int64_t i, std::int64_t j0, std::int64_t len) {
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) y[i + j] = convert<T>(convert<Acc>(x[i + j]) * convert<Acc>(g[j0 + j]));
  });
}

// dx = dy * g;  dg = sum_r dy * x. Either output may be null.
template <class Acc, class T>
void mul_backward(Backend, T* dx, T* dg, const T* dy, const T* x, const T* g, std::int64_t R, std::int64_t C) {
  if (dx) {
    for_each_row_piece(R, C, [&](std::int64_t i, std::int64_t j0, std::int64_t len) {
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) dx[i + j] = convert<T>(convert<Acc>(dy[i + j]) * convert<Acc>(g[j0 + j]));
    });
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
