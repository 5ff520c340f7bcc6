// gemm.hpp (cpu) — defines gemm(): batched, strided C = alpha op(A) op(B) + beta C through oneDNN and OpenBLAS.
//
// Row-major throughout. float goes to oneDNN's dnnl_sgemm (its JIT kernels match MKL, 5-25% ahead of
// OpenBLAS's sgemm on the model's shapes: docs/performance.md), double to OpenBLAS's cblas_dgemm (oneDNN
// has no dgemm); bf16/f16 operands are widened to float, multiplied by sgemm and rounded back, which is
// how the CPU emulates 16-bit storage with fp32 accumulation. Batches are strided (stride 0 broadcasts one
// operand across the batch).
//
// Threading: a GEMM worth splitting is one OpenMP region whose threads make single-threaded BLAS calls on whole
// batch items or row panels of C, fewer synchronisations than the libraries' own threading. Every thread count
// is deterministic; whether counts agree bit for bit depends on the CPU's kernels (docs/performance.md, "CPU
// GEMM threading"). Called inside a region (attention's per-head products), gemm runs serially.
#pragma once

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/error.hpp"
#include "evaclip/ops/cpu/blas_kernels.hpp"
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
void blas_call(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    const dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    EVACLIP_CHECK(st == dnnl_success, "gemm: dnnl_sgemm failed (status ", int(st), ") for m=", m, " n=", n, " k=", k);
  } else {
    const auto ota = ta ? CblasTrans : CblasNoTrans, otb = tb ? CblasTrans : CblasNoTrans;
    cblas_dgemm(CblasRowMajor, ota, otb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
  }
}

// Multiply-adds below which a GEMM stays on one thread: OpenBLAS's own threshold (65536 * 4), under which
// it does not thread either.
inline constexpr std::int64_t gemm_serial_work = std::int64_t(1) << 18;

// Row panels of C start at multiples of this, a multiple of the BLAS kernels' row tiles (4, 8 or 12 rows), so
// every row is computed by the same tile as in one call and keeps its bits where the kernel does not depend on
// the call's size (docs/performance.md). Column panels would not. Checked by tests/unit/ops/test_cpu_parallel.cpp.
inline constexpr std::int64_t gemm_rows = 24;

// OpenBLAS's AVX-512 builds send calls with m n k <= 100^3 to a "small matrix" kernel with other bits; a
// panel must not cross that line when the whole call does not.
inline constexpr double gemm_small_mnk = 1e6;

template <class T>
void blas_gemm(const GemmShape& s, T alpha, const T* a, const T* b, T beta, T* c) {
  const std::int64_t lda = s.lda ? s.lda : tight_ld(s.trans_a, s.m, s.k);
  const std::int64_t ldb = s.ldb ? s.ldb : tight_ld(s.trans_b, s.k, s.n);
  const std::int64_t ldc = s.ldc ? s.ldc : s.n;
  if (s.batch <= 0 || s.m <= 0 || s.n <= 0) return;
  if constexpr (std::is_same_v<T, double>) blas_kernels();  // OpenBLAS on the CPU's own kernels, chosen once
  const std::int64_t work = s.m * s.n * std::max<std::int64_t>(s.k, 1);
  const int threads = omp_in_parallel() || s.batch * work < gemm_serial_work ? 1 : omp_get_max_threads();
  // Pieces per batch item: row panels of C when there are fewer items than threads.
  // Each panel keeps m n k above gemm_small_mnk if the whole call has it (edges round by up to gemm_rows).
  const double nk = double(s.n) * double(std::max<std::int64_t>(s.k, 1));
  const std::int64_t min_rows = double(s.m) * nk > gemm_small_mnk ? std::int64_t(gemm_small_mnk / nk) + 1 : 0;
  const std::int64_t max_pieces = min_rows ? s.m / (min_rows + gemm_rows) : (s.m + gemm_rows - 1) / gemm_rows;
  const std::int64_t pieces =
      s.batch >= threads
          ? 1
          : std::max<std::int64_t>(1, std::min<std::int64_t>((threads + s.batch - 1) / s.batch, max_pieces));
  auto edge = [&](std::int64_t p) {  // first row of panel p: a multiple of gemm_rows, nearest to an even split
    return p >= pieces ? s.m : std::min(s.m, (s.m * p / pieces + gemm_rows / 2) / gemm_rows * gemm_rows);
  };
  auto piece = [&](std::int64_t task) {
    const std::int64_t i = task / pieces, lo = edge(task % pieces), hi = edge(task % pieces + 1);
    if (lo >= hi) return;
    blas_call(s.trans_a, s.trans_b, hi - lo, s.n, s.k, alpha, a + i * s.stride_a + (s.trans_a ? lo : lo * lda), lda,
              b + i * s.stride_b, ldb, beta, c + i * s.stride_c + lo * ldc, ldc);
  };
  const std::int64_t tasks = s.batch * pieces;
  if (threads == 1 || tasks == 1) {
    for (std::int64_t t = 0; t < tasks; ++t) piece(t);
    return;
  }
  const int team = int(std::min<std::int64_t>(threads, tasks));
#pragma omp parallel num_threads(team)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (std::int64_t task = tasks * t / nt; task < tasks * (t + 1) / nt; ++task) piece(task);
  }
}

// Copies `rows` rows of `cols` elements (row stride ld, batch stride bs) into tight float storage.
template <class T>
std::vector<float> widen(const T* p, std::int64_t batch, std::int64_t bs, std::int64_t rows, std::int64_t cols,
                         std::int64_t ld) {
  std::vector<float> out(std::size_t(batch * rows * cols));
  parallel_ranges(batch * rows, cols, [&](std::int64_t br0, std::int64_t br1) {
    for (std::int64_t br = br0; br < br1; ++br) {
      const std::int64_t bi = br / rows, r = br % rows;
      for (std::int64_t j = 0; j < cols; ++j) out[std::size_t(br * cols + j)] = convert<float>(p[bi * bs + r * ld + j]);
    }
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
    parallel_ranges(s.batch * s.m, s.n, [&](std::int64_t bm0, std::int64_t bm1) {
      for (std::int64_t bm = bm0; bm < bm1; ++bm) {
        const std::int64_t bi = bm / s.m, r = bm % s.m;
        for (std::int64_t j = 0; j < s.n; ++j)
          c[bi * s.stride_c + r * ldc + j] = convert<T>(fc[std::size_t(bm * s.n + j)]);
      }
    });
  }
}

}  // namespace evaclip::cpu
