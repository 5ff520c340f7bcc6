// gemm.hpp (cpu) — defines gemm(): batched, strided C = alpha op(A) op(B) + beta C through OpenBLAS.
//
// Row-major throughout. float and double go straight to cblas_sgemm/dgemm; bf16/f16 operands are widened
// to float, multiplied by sgemm and rounded back, which is how the CPU emulates 16-bit storage with fp32
// accumulation. Batches are strided (stride 0 broadcasts one operand across the batch).
#pragma once

#include <cblas.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

struct GemmShape {
  bool trans_a = false, trans_b = false;
  std::int64_t m = 0, n = 0, k = 0;        // op(A): (m, k), op(B): (k, n), C: (m, n)
  std::int64_t lda = 0, ldb = 0, ldc = 0;  // row strides of A, B, C as stored; 0 = tight
  std::int64_t batch = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch items
};

namespace detail {
inline std::int64_t tight_ld(bool trans, std::int64_t rows, std::int64_t cols) { return trans ? rows : cols; }

template <class T>
void blas_gemm(const GemmShape& s, T alpha, const T* a, const T* b, T beta, T* c) {
  const auto ta = s.trans_a ? CblasTrans : CblasNoTrans, tb = s.trans_b ? CblasTrans : CblasNoTrans;
  const std::int64_t lda = s.lda ? s.lda : tight_ld(s.trans_a, s.m, s.k);
  const std::int64_t ldb = s.ldb ? s.ldb : tight_ld(s.trans_b, s.k, s.n);
  const std::int64_t ldc = s.ldc ? s.ldc : s.n;
  for (std::int64_t i = 0; i < s.batch; ++i) {
    const T* ai = a + i * s.stride_a;
    const T* bi = b + i * s.stride_b;
    T* ci = c + i * s.stride_c;
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, ta, tb, int(s.m), int(s.n), int(s.k), alpha, ai, int(lda), bi, int(ldb), beta, ci,
                  int(ldc));
    else
      cblas_dgemm(CblasRowMajor, ta, tb, int(s.m), int(s.n), int(s.k), alpha, ai, int(lda), bi, int(ldb), beta, ci,
                  int(ldc));
  }
}

// Copies `rows` rows of `cols` elements (row stride ld, batch stride bs) into tight float storage.
template <class T>
std::vector<float> widen(const T* p, std::int64_t batch, std::int64_t bs, std::int64_t rows, std::int64_t cols,
                         std::int64_t ld) {
  std::vector<float> out(std::size_t(batch * rows * cols));
  parallel_for(batch * rows, [&](std::int64_t br) {
    const std::int64_t bi = br / rows, r = br % rows;
    for (std::int64_t j = 0; j < cols; ++j) out[std::size_t(br * cols + j)] = convert<float>(p[bi * bs + r * ld + j]);
  });
  return out;
}
}  // namespace detail

template <class T>
void gemm(Backend, const GemmShape& s, double alpha, const T* a, const T* b, double beta, T* c) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    detail::blas_gemm<T>(s, T(alpha), a, b, T(beta), c);
  } else {
    // 16-bit storage: widen (tight), sgemm in float, round the result back.
    const std::int64_t ar = s.trans_a ? s.k : s.m, ac = s.trans_a ? s.m : s.k;
    const std::int64_t br = s.trans_b ? s.n : s.k, bc = s.trans_b ? s.k : s.n;
    const std::int64_t lda = s.lda ? s.lda : ac, ldb = s.ldb ? s.ldb : bc, ldc = s.ldc ? s.ldc : s.n;
    const std::int64_t sa = s.stride_a ? ar * ac : 0, sb = s.stride_b ? br * bc : 0;
    const auto fa = detail::widen(a, s.stride_a ? s.batch : 1, s.stride_a, ar, ac, lda);
    const auto fb = detail::widen(b, s.stride_b ? s.batch : 1, s.stride_b, br, bc, ldb);
    auto fc = beta != 0 ? detail::widen(c, s.batch, s.stride_c, s.m, s.n, ldc)
                        : std::vector<float>(std::size_t(s.batch * s.m * s.n));
    GemmShape f = s;
    f.lda = f.ldb = f.ldc = 0;
    f.stride_a = sa;
    f.stride_b = sb;
    f.stride_c = s.m * s.n;
    detail::blas_gemm<float>(f, float(alpha), fa.data(), fb.data(), float(beta), fc.data());
    parallel_for(s.batch * s.m, [&](std::int64_t bm) {
      const std::int64_t bi = bm / s.m, r = bm % s.m;
      for (std::int64_t j = 0; j < s.n; ++j) c[bi * s.stride_c + r * ldc + j] = convert<T>(fc[std::size_t(bm * s.n + j)]);
    });
  }
}

}  // namespace evaclip::cpu
