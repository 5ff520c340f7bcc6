// similarity.hpp — defines l2_normalize_rows and similarity: float32 embedding rows to unit length, and the
// (N, M) matrix of dot products between two sets of rows (cosine similarity once both are normalised).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/error.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/gemm.hpp"

namespace evaclip::eval {

namespace detail {
inline void check_rows(const Tensor& x, const char* op) {
  EVACLIP_CHECK(x.dtype() == DType::f32 && x.rank() == 2 && x.is_contiguous(), op,
                ": expects contiguous float32 (rows, dim), got ", dtype_name(x.dtype()), " ", to_string(x.shape()));
}
}  // namespace detail

// (N, D) -> (N, D): each row divided by max(|row|, 1e-12), as torch.nn.functional.normalize does (the
// norm is summed in double here).
inline Tensor l2_normalize_rows(const Tensor& x) {
  detail::check_rows(x, "l2_normalize_rows");
  const std::int64_t n = x.shape()[0], d = x.shape()[1];
  Tensor out = Tensor::empty({n, d}, DType::f32);
  for (std::int64_t i = 0; i < n; ++i) {
    const float* in = x.data<float>() + i * d;
    float* o = out.data<float>() + i * d;
    double ss = 0;
    for (std::int64_t j = 0; j < d; ++j) ss += double(in[j]) * in[j];
    const float norm = std::max(float(std::sqrt(ss)), 1e-12f);
    for (std::int64_t j = 0; j < d; ++j) o[j] = in[j] / norm;
  }
  return out;
}

// a: (N, D), b: (M, D) -> (N, M) = a b^T in float32 (OpenBLAS sgemm).
inline Tensor similarity(const Tensor& a, const Tensor& b) {
  detail::check_rows(a, "similarity");
  detail::check_rows(b, "similarity");
  EVACLIP_CHECK(a.shape()[1] == b.shape()[1], "similarity: ", to_string(a.shape()), " and ", to_string(b.shape()),
                " differ in width");
  const std::int64_t n = a.shape()[0], m = b.shape()[0], d = a.shape()[1];
  Tensor out = Tensor::zeros({n, m}, DType::f32);
  if (n == 0 || m == 0) return out;
  cpu::GemmShape s;
  s.trans_b = true, s.m = n, s.n = m, s.k = d;
  cpu::gemm(Cpu{}, s, 1.0, a.data<float>(), b.data<float>(), 0.0, out.data<float>());
  return out;
}

}  // namespace evaclip::eval
