// attention.hpp (cpu) — defines attention_forward / attention_backward: scaled-dot-product attention.
//
// Per (batch, head): S = scale q k^T, P = softmax(S) row-wise (keys after the query masked out when causal),
// O = P v. The products go through cpu::gemm in the compute type Acc: 16-bit q, k, v are widened first,
// so S and P are never rounded to 16 bits (as in a fused GPU kernel); only O is stored as T.
//
// What the backward keeps: the row log-sum-exp lse = log sum_j exp(S_ij), not P. P is (T, T) per head,
// lse is (T,); the backward recomputes P = exp(S - lse) with one extra GEMM. This is flash attention's
// trade of O(T) saved memory for a little compute, and it is what the GPU kernel saves too.
//
// Threading and blocking: one parallel loop over (batch·head) items; each thread runs its items' products as
// single-threaded GEMMs with the softmax between them, a block of at most 64K scores (qb queries × L keys,
// 256 KiB in fp32) at a time, so the scores stay in cache and only one OpenMP region opens per call. The
// block size depends on L alone and every item is computed by one thread, so the bits do not depend on the
// thread count (up to gemm()'s own panels when one item is worth splitting: gemm.hpp); blocks are whole GEMM
// row tiles, so the forward and dq have the bits of one unblocked pass (on AVX-512; fp64 in the tests). The
// backward sums dk and dv over the query blocks of an item in block order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cpu/parallel.hpp"
#include "evaclip/ops/cpu/vector_math.hpp"

namespace evaclip::cpu {

namespace detail {
// Query rows per block: as many as keep a block's (rows, L) scores within 64K values, in whole GEMM row
// tiles (gemm_rows) so that a block's rows get the same bits as in one product over all queries.
inline std::int64_t query_block(std::int64_t L) {
  const std::int64_t rows = (std::int64_t(1) << 16) / std::max<std::int64_t>(L, 1);
  return std::min(L, std::max(gemm_rows, rows / gemm_rows * gemm_rows));
}

// Key j is visible to query i unless causal and j > i (torch's is_causal).
inline std::int64_t visible_keys(std::int64_t i, std::int64_t L, bool causal) { return causal ? i + 1 : L; }

// n values of p seen in Acc: p itself when the types agree, otherwise a widened copy held in buf.
template <class Acc, class T>
const Acc* widened(const T* p, std::int64_t n, std::vector<Acc>& buf) {
  if constexpr (std::is_same_v<Acc, T>) {
    return p;
  } else {
    buf.resize(std::size_t(n));
    for (std::int64_t i = 0; i < n; ++i) buf[std::size_t(i)] = convert<Acc>(p[i]);
    return buf.data();
  }
}

// Where a product of n values bound for dst is computed: dst itself when the types agree, else buf.
template <class Acc, class T>
Acc* product_target(T* dst, std::int64_t n, std::vector<Acc>& buf) {
  if constexpr (std::is_same_v<Acc, T>) {
    return dst;
  } else {
    buf.resize(std::size_t(n));
    return buf.data();
  }
}

// dst = the n values at src (rounded to T), unless src already is dst.
template <class Acc, class T>
void store(T* dst, const Acc* src, std::int64_t n) {
  if constexpr (!std::is_same_v<Acc, T>)
    for (std::int64_t i = 0; i < n; ++i) dst[i] = convert<T>(src[i]);
}

// c (m, n) = alpha op(a) op(b) + beta c, tight row-major blocks; serial inside attention's region.
template <class Acc>
void block_gemm(Backend be, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                const Acc* a, const Acc* b, double beta, Acc* c) {
  GemmShape s;
  s.trans_a = ta, s.trans_b = tb;
  s.m = m, s.n = n, s.k = k;
  gemm(be, s, alpha, a, b, beta, c);
}

// One score row s (L,) of query i becomes its probabilities; returns log sum exp over the visible keys.
// The row maximum is subtracted before exp() so nothing overflows.
template <class Acc>
Acc softmax_row(Acc* s, std::int64_t i, std::int64_t L, bool causal) {
  const std::int64_t vis = visible_keys(i, L, causal);
  const Acc mx = vec::max<Acc>(s, vis);
  const Acc sum = vec::exp_shift_sum(s, vis, mx), inv = Acc(1) / sum;
#pragma omp simd
  for (std::int64_t j = 0; j < vis; ++j) s[j] *= inv;
  std::fill(s + vis, s + L, Acc(0));
  return mx + std::log(sum);
}

// The backward's recomputation of the same row: P_ij = exp(S_ij - lse_i), 0 where masked.
template <class Acc>
void probs_row(Acc* s, Acc lse, std::int64_t i, std::int64_t L, bool causal) {
  const std::int64_t vis = visible_keys(i, L, causal);
#pragma omp simd
  for (std::int64_t j = 0; j < vis; ++j) s[j] = vec::exp(s[j] - lse);
  std::fill(s + vis, s + L, Acc(0));
}

// attention_forward with queries taken qb at a time (the public one uses query_block(L)).
template <class Acc, class T>
void attention_forward_blocked(Backend be, T* o, Acc* lse, const T* q, const T* k, const T* v, std::int64_t BH,
                               std::int64_t L, std::int64_t D, bool causal, double scale, std::int64_t qb) {
  const std::int64_t n = L * D;
  parallel_ranges(BH, 4 * L * L * D, [&](std::int64_t h0, std::int64_t h1) {
    std::vector<Acc> bq, bk, bv, bo, s(static_cast<std::size_t>(qb * L));
    for (std::int64_t h = h0; h < h1; ++h) {
      const Acc* qh = widened(q + h * n, n, bq);
      const Acc* kh = widened(k + h * n, n, bk);
      const Acc* vh = widened(v + h * n, n, bv);
      Acc* oh = product_target(o + h * n, n, bo);
      for (std::int64_t i0 = 0; i0 < L; i0 += qb) {
        const std::int64_t m = std::min(qb, L - i0);
        block_gemm(be, false, true, m, L, D, scale, qh + i0 * D, kh, 0.0, s.data());  // S = scale q k^T (m, L)
        for (std::int64_t r = 0; r < m; ++r) lse[h * L + i0 + r] = softmax_row(s.data() + r * L, i0 + r, L, causal);
        block_gemm(be, false, false, m, D, L, 1.0, s.data(), vh, 0.0, oh + i0 * D);  // O = P v (m, D)
      }
      store(o + h * n, oh, n);
    }
  });
}

// attention_backward with queries taken qb at a time; dk and dv sum over the blocks in block order.
template <class Acc, class T>
void attention_backward_blocked(Backend be, T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                                const Acc* lse, std::int64_t BH, std::int64_t L, std::int64_t D, bool causal,
                                double scale, std::int64_t qb) {
  const std::int64_t n = L * D;
  parallel_ranges(BH, 10 * L * L * D, [&](std::int64_t h0, std::int64_t h1) {
    std::vector<Acc> bq, bk, bv, bo, bdq, bdk, bdv, p(static_cast<std::size_t>(qb * L)),
        ds(static_cast<std::size_t>(qb * L));
    for (std::int64_t h = h0; h < h1; ++h) {
      const Acc* qh = widened(q + h * n, n, bq);
      const Acc* kh = widened(k + h * n, n, bk);
      const Acc* doh = widened(dout + h * n, n, bo);
      const Acc* vh = dq || dk ? widened(v + h * n, n, bv) : nullptr;
      Acc* dqh = dq ? product_target(dq + h * n, n, bdq) : nullptr;
      Acc* dkh = dk ? product_target(dk + h * n, n, bdk) : nullptr;
      Acc* dvh = dv ? product_target(dv + h * n, n, bdv) : nullptr;
      for (std::int64_t i0 = 0; i0 < L; i0 += qb) {
        const std::int64_t m = std::min(qb, L - i0);
        const double acc = i0 == 0 ? 0.0 : 1.0;  // dk, dv: the first block overwrites, later ones add
        block_gemm(be, false, true, m, L, D, scale, qh + i0 * D, kh, 0.0, p.data());  // S again, P from lse
        for (std::int64_t r = 0; r < m; ++r) probs_row(p.data() + r * L, lse[h * L + i0 + r], i0 + r, L, causal);
        if (dvh) block_gemm(be, true, false, L, D, m, 1.0, p.data(), doh + i0 * D, acc, dvh);  // dv += P^T dO
        if (!dqh && !dkh) continue;
        block_gemm(be, false, true, m, L, D, 1.0, doh + i0 * D, vh, 0.0, ds.data());  // dP, made dS in place
        for (std::int64_t r = 0; r < m; ++r) {
          const Acc* pr = p.data() + r * L;
          Acc* dr = ds.data() + r * L;
          const Acc dot = vec::dot<Acc>(dr, pr, L);
#pragma omp simd
          for (std::int64_t j = 0; j < L; ++j) dr[j] = pr[j] * (dr[j] - dot);
        }
        if (dqh) block_gemm(be, false, false, m, D, L, scale, ds.data(), kh, 0.0, dqh + i0 * D);  // dq = scale dS k
        if (dkh) block_gemm(be, true, false, L, D, m, scale, ds.data(), qh + i0 * D, acc, dkh);   // dk += scale dS^T q
      }
      if (dqh) store(dq + h * n, dqh, n);
      if (dkh) store(dk + h * n, dkh, n);
      if (dvh) store(dv + h * n, dvh, n);
    }
  });
}
}  // namespace detail

// o, q, k, v: (BH, L, D); lse: (BH, L). BH = batch * heads.
template <class Acc, class T>
void attention_forward(Backend be, T* o, Acc* lse, const T* q, const T* k, const T* v, std::int64_t BH, std::int64_t L,
                       std::int64_t D, bool causal, double scale) {
  detail::attention_forward_blocked(be, o, lse, q, k, v, BH, L, D, causal, scale, detail::query_block(L));
}

// dv = P^T dO;  dP = dO v^T;  dS = P * (dP - rowsum(dP * P));  dq = scale dS k;  dk = scale dS^T q.
// dq, dk, dv: (BH, L, D), overwritten; a null one is not computed.
template <class Acc, class T>
void attention_backward(Backend be, T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const Acc* lse, std::int64_t BH, std::int64_t L, std::int64_t D, bool causal, double scale) {
  detail::attention_backward_blocked(be, dq, dk, dv, dout, q, k, v, lse, BH, L, D, causal, scale,
                                     detail::query_block(L));
}

}  // namespace evaclip::cpu
