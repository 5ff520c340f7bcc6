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
// Threading: OpenBLAS runs its own thread pool, and calling it from inside an OpenMP loop over heads
// makes the two pools fight for the cores (measured 10-100x slower on 2 cores). So each step is one
// batched GEMM over a pass of heads, called outside any parallel region, and the row-wise softmax work
// between the GEMMs is split over (head, query) rows with parallel_for. A pass holds at most ~4M scores,
// so scratch memory stays bounded (~16 MiB in fp32) whatever the batch size.
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

namespace evaclip::cpu {

namespace detail {
// Heads per pass: as many as fit ~4M (L, L) scores, at least one.
inline std::int64_t heads_per_pass(std::int64_t BH, std::int64_t L) {
  return std::clamp<std::int64_t>((std::int64_t(1) << 22) / (L * L), 1, BH);
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
    parallel_for(n, [&](std::int64_t i) { buf[std::size_t(i)] = convert<Acc>(p[i]); });
    return buf.data();
  }
}

template <class Acc, class T>
void store(T* dst, const std::vector<Acc>& src) {
  parallel_for(std::int64_t(src.size()), [&](std::int64_t i) { dst[i] = convert<T>(src[std::size_t(i)]); });
}

// c[h] (m, n) = alpha op(a[h]) op(b[h]) for each of `heads` tight row-major blocks.
template <class Acc>
void head_gemm(Backend be, std::int64_t heads, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k,
               double alpha, const Acc* a, const Acc* b, Acc* c) {
  GemmShape s;
  s.trans_a = ta, s.trans_b = tb;
  s.m = m, s.n = n, s.k = k;
  s.batch = heads;
  s.stride_a = m * k, s.stride_b = k * n, s.stride_c = m * n;
  gemm(be, s, alpha, a, b, 0.0, c);
}

// One score row s (L,) of query i becomes its probabilities; returns log sum exp over the visible keys.
// The row maximum is subtracted before exp() so nothing overflows.
template <class Acc>
Acc softmax_row(Acc* s, std::int64_t i, std::int64_t L, bool causal) {
  const std::int64_t vis = visible_keys(i, L, causal);
  const Acc mx = *std::max_element(s, s + vis);
  Acc sum = 0;
  for (std::int64_t j = 0; j < vis; ++j) sum += (s[j] = std::exp(s[j] - mx));
  for (std::int64_t j = 0; j < vis; ++j) s[j] /= sum;
  std::fill(s + vis, s + L, Acc(0));
  return mx + std::log(sum);
}

// The backward's recomputation of the same row: P_ij = exp(S_ij - lse_i), 0 where masked.
template <class Acc>
void probs_row(Acc* s, Acc lse, std::int64_t i, std::int64_t L, bool causal) {
  const std::int64_t vis = visible_keys(i, L, causal);
  for (std::int64_t j = 0; j < vis; ++j) s[j] = std::exp(s[j] - lse);
  std::fill(s + vis, s + L, Acc(0));
}
}  // namespace detail

// o, q, k, v: (BH, L, D); lse: (BH, L). BH = batch * heads.
template <class Acc, class T>
void attention_forward(Backend be, T* o, Acc* lse, const T* q, const T* k, const T* v, std::int64_t BH, std::int64_t L,
                       std::int64_t D, bool causal, double scale) {
  const std::int64_t n = L * D, pass = detail::heads_per_pass(BH, L);
  std::vector<Acc> bq, bk, bv, s, out;
  for (std::int64_t h0 = 0; h0 < BH; h0 += pass) {
    const std::int64_t nh = std::min(pass, BH - h0);
    const Acc* qh = detail::widened(q + h0 * n, nh * n, bq);
    const Acc* kh = detail::widened(k + h0 * n, nh * n, bk);
    const Acc* vh = detail::widened(v + h0 * n, nh * n, bv);
    s.resize(std::size_t(nh * L * L));
    out.resize(std::size_t(nh * n));
    detail::head_gemm(be, nh, false, true, L, L, D, scale, qh, kh, s.data());  // S = scale q k^T
    parallel_for(nh * L, [&](std::int64_t r) {                                 // r = (head, query)
      lse[h0 * L + r] = detail::softmax_row(s.data() + r * L, r % L, L, causal);
    });
    detail::head_gemm(be, nh, false, false, L, D, L, 1.0, s.data(), vh, out.data());  // O = P v
    detail::store(o + h0 * n, out);
  }
}

// dv = P^T dO;  dP = dO v^T;  dS = P * (dP - rowsum(dP * P));  dq = scale dS k;  dk = scale dS^T q.
// dq, dk, dv: (BH, L, D), overwritten; a null one is not computed.
template <class Acc, class T>
void attention_backward(Backend be, T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                        const Acc* lse, std::int64_t BH, std::int64_t L, std::int64_t D, bool causal, double scale) {
  const std::int64_t n = L * D, pass = detail::heads_per_pass(BH, L);
  std::vector<Acc> bq, bk, bv, bo, p, ds, out;
  for (std::int64_t h0 = 0; h0 < BH; h0 += pass) {
    const std::int64_t nh = std::min(pass, BH - h0);
    const Acc* qh = detail::widened(q + h0 * n, nh * n, bq);
    const Acc* kh = detail::widened(k + h0 * n, nh * n, bk);
    const Acc* doh = detail::widened(dout + h0 * n, nh * n, bo);
    p.resize(std::size_t(nh * L * L));
    out.resize(std::size_t(nh * n));
    detail::head_gemm(be, nh, false, true, L, L, D, scale, qh, kh, p.data());  // S again, then P from lse
    parallel_for(nh * L,
                 [&](std::int64_t r) { detail::probs_row(p.data() + r * L, lse[h0 * L + r], r % L, L, causal); });
    if (dv) {
      detail::head_gemm(be, nh, true, false, L, D, L, 1.0, p.data(), doh, out.data());
      detail::store(dv + h0 * n, out);
    }
    if (!dq && !dk) continue;
    const Acc* vh = detail::widened(v + h0 * n, nh * n, bv);
    ds.resize(std::size_t(nh * L * L));
    detail::head_gemm(be, nh, false, true, L, L, D, 1.0, doh, vh, ds.data());  // dP, made dS in place
    parallel_for(nh * L, [&](std::int64_t r) {
      const Acc* pr = p.data() + r * L;
      Acc* dr = ds.data() + r * L;
      Acc dot = 0;
      for (std::int64_t j = 0; j < L; ++j) dot += dr[j] * pr[j];
      for (std::int64_t j = 0; j < L; ++j) dr[j] = pr[j] * (dr[j] - dot);
    });
    if (dq) {
      detail::head_gemm(be, nh, false, false, L, D, L, scale, ds.data(), kh, out.data());
      detail::store(dq + h0 * n, out);
    }
    if (dk) {
      detail::head_gemm(be, nh, true, false, L, D, L, scale, ds.data(), qh, out.data());
      detail::store(dk + h0 * n, out);
    }
  }
}

}  // namespace evaclip::cpu
