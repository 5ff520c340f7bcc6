// attention.cuh (cuda) — defines rope_attention_forward and attention_forward: 2D RoPE + scaled-dot-product
// attention on the GPU (a flash-attention-2 style fused kernel, a generic fallback, and, with
// be.fusion.attention off, the unfused sequence of attention_unfused.cuh); the backwards are not built yet.
//
// Fused kernel (bf16/f16, head dims 64, 88, 112, 128): one CTA of 4 warps per (batch*head, 64 query rows);
// each warp owns 16 query rows. The Q tile is loaded once, rotated on load in float and rounded to T
// exactly as cpu::rope2d_forward rounds it; then 64-key tiles of K (rotated on load) and V stream through
// shared memory. S = Q K^T and O += P V run on the tensor cores through WMMA (16x16x16, fp32
// accumulators); the softmax is online (running max and sum per row, in float, base-2 exponent), so no
// (T, T) matrix exists anywhere. Causal CTAs stop at the last tile their rows can see and mask the
// diagonal tile element-wise. The head dim is padded to a multiple of 16 with zeros in shared memory (88
// becomes 96; the zero columns add nothing to q.k and their O columns are never stored).
//   Shared memory: Q, K, V tiles of 64 rows x (Dp + 8) T (the 16-byte row pad staggers ldmatrix rows over
//   all 32 banks), per warp a 16 x (64 + 8) T tile of P and a 16 x (max(64, Dp) + 4) float scratch that
//   takes S and then each tile's P V (so O stays in registers in a layout we know, which WMMA's opaque
//   accumulator layout would not allow: lane l owns row l % 16 and half l / 16 of the columns). That is
//   53 KB at hd 64, 73 KB at 88, 83 KB at 112, 93 KB at 128. ptxas gives 146-168 registers per thread
//   (no spills; sm_90, nvcc 13.0), so registers bound the residency at 3 CTAs = 12 warps per SM, and at
//   2 CTAs for 112/128 by shared memory. Four warps per CTA share each K/V tile among 64 query rows
//   (global K/V traffic T^2 hd / 64 per head) and still leave several CTAs per SM to hide each other's
//   synchronous tile loads (16-byte vectors, the RoPE applied between load and store). The CTAs of one
//   head are adjacent in the grid (its K/V stay in L2), and the diagonal (longest) causal tiles go first.
// Generic kernel (fp32, any other head dim up to 256, or pointers not 16-byte aligned): 8 warps, one query
// row per warp, 32-key tiles of K/V in float shared memory (K rows padded to an odd stride: lane j reads
// key j's row conflict-free); lane j scores key j, then every lane accumulates its 32-strided O columns.
// Plain FP32 FMAs and expf/logf, so fp32 stays within 1e-5 of the CPU reference.
#pragma once

#include <mma.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "evaclip/ops/attention_args.hpp"
#include "evaclip/ops/cuda/attention_unfused.cuh"
#include "evaclip/ops/cuda/common.cuh"

namespace evaclip::cuda {

namespace attention_detail {

// What every forward kernel reads (device pointers; cos == nullptr: no RoPE).
template <class T>
struct AttnArgs {
  T* o;        // (BH, L, hd)
  float* lse;  // (BH, L)
  const T* q;  // (BH, L, hd)
  const T* k;
  const T* v;
  const float* cos;  // (L - prefix, hd), or (B, L - prefix, hd) when per_sample
  const float* sin;
  int H, L, hd, prefix;
  bool per_sample, causal;
  float scale;
};

// The batch's cos or sin table (its row 0 is token `prefix`), or null without RoPE.
template <class T>
__device__ __forceinline__ const float* batch_table(const float* t, const AttnArgs<T>& a, int b) {
  return t ? t + (a.per_sample ? std::int64_t(b) * (a.L - a.prefix) * a.hd : 0) : nullptr;
}

// ---------------------------------------------------------------- fused (WMMA) kernel

template <int HD>
struct FlashTile {
  static constexpr int kDp = (HD + 15) / 16 * 16;  // head dim padded for 16x16x16 WMMA
  static constexpr int kBm = 64, kBn = 64;         // query rows per CTA, keys per tile
  static constexpr int kWarps = kBm / 16, kThreads = 32 * kWarps;
  static constexpr int kLdt = kDp + 8;                      // Q/K/V tile row stride (elements)
  static constexpr int kLdp = kBn + 8;                      // P tile row stride
  static constexpr int kLds = (kBn > kDp ? kBn : kDp) + 4;  // float scratch row stride
  static constexpr int kHalf = kDp / 2;                     // O columns per lane
  static_assert(HD % 8 == 0, "rows are moved as 16-byte vectors of 8 elements");
  template <class T>
  static constexpr std::size_t smem_bytes() {
    return std::size_t(kBm + 2 * kBn) * kLdt * sizeof(T) + std::size_t(kWarps) * 16 * kLdp * sizeof(T) +
           std::size_t(kWarps) * 16 * kLds * sizeof(float);
  }
};

// Rows [row0, row0 + ROWS) of one head's (L, HD) matrix x into the tile dst (row stride kLdt), rotated
// when cb != null and the token is past the prefix, rounded to T; rows past L and the pad columns
// [HD, Dp) are zero. 16-byte vectors: HD * sizeof(T) is a multiple of 16 and x is 16-byte aligned.
template <class T, int HD, int ROWS>
__device__ __forceinline__ void load_tile(T* __restrict__ dst, const T* __restrict__ x, int row0, const AttnArgs<T>& a,
                                          const float* cb, const float* sb) {
  using Tile = FlashTile<HD>;
  constexpr int kChunks = Tile::kDp / 8, kReal = HD / 8;
  for (int idx = threadIdx.x; idx < ROWS * kChunks; idx += Tile::kThreads) {
    const int r = idx / kChunks, ch = idx % kChunks, t = row0 + r, d0 = ch * 8;
    Vec<T, 8> out;
    if (t < a.L && ch < kReal) {
      const Vec<T, 8> in = *reinterpret_cast<const Vec<T, 8>*>(x + std::int64_t(t) * HD + d0);
      if (cb && t >= a.prefix) {
        const std::int64_t off = std::int64_t(t - a.prefix) * HD + d0;
        const float4 c0 = *reinterpret_cast<const float4*>(cb + off),
                     c1 = *reinterpret_cast<const float4*>(cb + off + 4);
        const float4 s0 = *reinterpret_cast<const float4*>(sb + off),
                     s1 = *reinterpret_cast<const float4*>(sb + off + 4);
        const float c[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
        const float s[8] = {s0.x, s0.y, s0.z, s0.w, s1.x, s1.y, s1.z, s1.w};
#pragma unroll
        for (int p = 0; p < 8; p += 2) {
          float y0, y1;
          rotate_pair(to_f32(in.v[p]), to_f32(in.v[p + 1]), c[p], c[p + 1], s[p], s[p + 1], y0, y1);
          out.v[p] = from_f32<T>(y0);
          out.v[p + 1] = from_f32<T>(y1);
        }
      } else {
        out = in;
      }
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) out.v[e] = from_f32<T>(0.0f);
    }
    *reinterpret_cast<Vec<T, 8>*>(dst + r * Tile::kLdt + d0) = out;
  }
}

template <class T, int HD>
__global__ void __launch_bounds__(FlashTile<HD>::kThreads) flash_forward_kernel(const AttnArgs<T> a, int n_qtiles) {
  namespace wmma = nvcuda::wmma;
  using Tile = FlashTile<HD>;
  using N = typename native<T>::type;
  constexpr int kBm = Tile::kBm, kBn = Tile::kBn, kDp = Tile::kDp, kLdt = Tile::kLdt, kLdp = Tile::kLdp,
                kLds = Tile::kLds, kHalf = Tile::kHalf;
  constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;

  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // every sub-buffer starts at a multiple of 32 bytes (WMMA)
  T* sK = sQ + kBm * kLdt;
  T* sV = sK + kBn * kLdt;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  T* sP = sV + kBn * kLdt + warp * 16 * kLdp;  // this warp's P (16, kBn)
  float* sS = reinterpret_cast<float*>(sV + kBn * kLdt + Tile::kWarps * 16 * kLdp) + warp * 16 * kLds;

  const int bh = blockIdx.x / n_qtiles;
  const int qt = n_qtiles - 1 - blockIdx.x % n_qtiles;  // last query tiles first: the longest causal ones
  const int b = bh / a.H, q0 = qt * kBm, wrow0 = q0 + warp * 16;
  const std::int64_t head = std::int64_t(bh) * a.L * HD;
  const float* cb = batch_table(a.cos, a, b);
  const float* sb = batch_table(a.sin, a, b);

  load_tile<T, HD, kBm>(sQ, a.q + head, q0, a, cb, sb);  // published by the first barrier of the loop

  const int r = lane & 15, half = lane >> 4, row = wrow0 + r;  // this lane's query row and column half
  float o[kHalf];
#pragma unroll
  for (int d = 0; d < kHalf; ++d) o[d] = 0.0f;
  float m = -INFINITY, l = 0.0f;  // running max (log2 units) and sum of this row
  const float scale2 = a.scale * kLog2e;
  const int kv_end = a.causal ? min(a.L, q0 + kBm) : a.L;

  for (int j0 = 0; j0 < kv_end; j0 += kBn) {
    __syncthreads();  // the previous tile's readers are done (and sQ is complete, the first time)
    load_tile<T, HD, kBn>(sK, a.k + head, j0, a, cb, sb);
    load_tile<T, HD, kBn>(sV, a.v + head, j0, a, nullptr, nullptr);
    __syncthreads();
    if (wrow0 >= a.L || (a.causal && j0 > wrow0 + 15)) continue;  // no row of this warp sees this tile

    // S (16, kBn) = Q_w K^T, into this warp's scratch.
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> sacc[kBn / 16];
#pragma unroll
    for (int n = 0; n < kBn / 16; ++n) wmma::fill_fragment(sacc[n], 0.0f);
#pragma unroll
    for (int kk = 0; kk < kDp / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, N, wmma::row_major> qa;
      wmma::load_matrix_sync(qa, reinterpret_cast<const N*>(sQ + warp * 16 * kLdt + kk * 16), kLdt);
#pragma unroll
      for (int n = 0; n < kBn / 16; ++n) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, N, wmma::col_major> kb;  // K^T: element (d, j) at K[j][d]
        wmma::load_matrix_sync(kb, reinterpret_cast<const N*>(sK + n * 16 * kLdt + kk * 16), kLdt);
        wmma::mma_sync(sacc[n], qa, kb, sacc[n]);
      }
    }
#pragma unroll
    for (int n = 0; n < kBn / 16; ++n) wmma::store_matrix_sync(sS + n * 16, sacc[n], kLds, wmma::mem_row_major);
    __syncwarp();

    // Online softmax of row r over columns [32 half, 32 half + 32); the other half is lane ^ 16.
    float s[kBn / 2];
    float tmax = -INFINITY;
#pragma unroll
    for (int c = 0; c < kBn / 2; c += 4) {
      const float4 x4 = *reinterpret_cast<const float4*>(sS + r * kLds + half * (kBn / 2) + c);
      const float x[4] = {x4.x, x4.y, x4.z, x4.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int j = j0 + half * (kBn / 2) + c + e;
        const bool visible = j < a.L && !(a.causal && j > row);
        s[c + e] = visible ? x[e] * scale2 : -INFINITY;
        tmax = fmaxf(tmax, s[c + e]);
      }
    }
    tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 16));
    const float m_new = fmaxf(m, tmax);
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;  // a row that sees no key yet: p = 0, not NaN
    const float alpha = exp2f(m - m_use);
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kBn / 2; ++c) sum += (s[c] = exp2f(s[c] - m_use));
    sum += __shfl_xor_sync(0xffffffffu, sum, 16);
    l = l * alpha + sum;
    m = m_new;
#pragma unroll
    for (int c = 0; c < kBn / 2; c += 8) {
      Vec<T, 8> p8;
#pragma unroll
      for (int e = 0; e < 8; ++e) p8.v[e] = from_f32<T>(s[c + e]);
      *reinterpret_cast<Vec<T, 8>*>(sP + r * kLdp + half * (kBn / 2) + c) = p8;
    }
    __syncwarp();  // P is complete, and every lane has read its S

    // P V (16, Dp), 16 columns at a time, into the scratch (S is consumed).
#pragma unroll
    for (int n = 0; n < kDp / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < kBn / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, N, wmma::row_major> pa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, N, wmma::row_major> vb;
        wmma::load_matrix_sync(pa, reinterpret_cast<const N*>(sP + kk * 16), kLdp);
        wmma::load_matrix_sync(vb, reinterpret_cast<const N*>(sV + kk * 16 * kLdt + n * 16), kLdt);
        wmma::mma_sync(acc, pa, vb, acc);
      }
      wmma::store_matrix_sync(sS + n * 16, acc, kLds, wmma::mem_row_major);
    }
    __syncwarp();
#pragma unroll
    for (int d = 0; d < kHalf; d += 4) {
      const float4 pv = *reinterpret_cast<const float4*>(sS + r * kLds + half * kHalf + d);
      o[d] = o[d] * alpha + pv.x;
      o[d + 1] = o[d + 1] * alpha + pv.y;
      o[d + 2] = o[d + 2] * alpha + pv.z;
      o[d + 3] = o[d + 3] * alpha + pv.w;
    }
  }

  if (row >= a.L) return;
  const float inv = 1.0f / l;  // l > 0: every row sees key 0
  T* orow = a.o + head + std::int64_t(row) * HD;
#pragma unroll
  for (int d = 0; d < kHalf; d += 8) {
    const int col = half * kHalf + d;
    if (col >= HD) continue;  // pad columns (hd 88 only); HD % 8 == 0, so a vector is all in or all out
    Vec<T, 8> out;
#pragma unroll
    for (int e = 0; e < 8; ++e) out.v[e] = from_f32<T>(o[d + e] * inv);
    *reinterpret_cast<Vec<T, 8>*>(orow + col) = out;
  }
  if (half == 0) a.lse[std::int64_t(bh) * a.L + row] = (m + log2f(l)) * kLn2;
}

template <class T, int HD>
void launch_flash(Backend be, const AttnArgs<T>& a, std::int64_t BH) {
  using Tile = FlashTile<HD>;
  constexpr std::size_t smem = Tile::template smem_bytes<T>();
  // Above 48 KB a kernel must opt in; a cheap host call, made every time so every device gets it.
  EVACLIP_CUDA_CHECK(
      cudaFuncSetAttribute(flash_forward_kernel<T, HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
      "rope_attention_forward");
  const std::int64_t nq = ceil_div(a.L, Tile::kBm), grid = BH * nq;
  EVACLIP_CHECK(grid <= 0x7fffffff, "rope_attention_forward: ", BH, " heads x ", a.L, " tokens is too many CTAs");
  flash_forward_kernel<T, HD><<<unsigned(grid), Tile::kThreads, smem, stream_of(be)>>>(a, int(nq));
  check_launch(be, "rope_attention_forward");
}

// ---------------------------------------------------------------- generic kernel

inline constexpr int kGenRows = 8, kGenKeys = 32;  // query rows (= warps) per CTA, keys per tile

inline std::size_t generic_smem_bytes(int hd) {
  return std::size_t(kGenRows * hd + kGenKeys * (hd | 1) + kGenKeys * hd) * sizeof(float);
}

// Rows [row0, row0 + rows) of one head's (L, hd) matrix x into float shared memory (row stride ld),
// rotated when cb != null and the token is past the prefix and rounded to T first (as the CPU stores the
// rotated q/k); rows past L are zero.
template <class T>
__device__ __forceinline__ void load_rows_f32(float* __restrict__ dst, int ld, const T* __restrict__ x, int row0,
                                              int rows, const AttnArgs<T>& a, const float* cb, const float* sb) {
  const int hd = a.hd;
  for (int idx = threadIdx.x; idx < rows * hd; idx += blockDim.x) {
    const int r = idx / hd, d = idx % hd, t = row0 + r;
    float y = 0.0f;
    if (t < a.L) {
      const T* xr = x + std::int64_t(t) * hd;
      if (cb && t >= a.prefix) {
        const int p = d & ~1;
        const std::int64_t off = std::int64_t(t - a.prefix) * hd + p;
        float y0, y1;
        rotate_pair(to_f32(xr[p]), to_f32(xr[p + 1]), cb[off], cb[off + 1], sb[off], sb[off + 1], y0, y1);
        y = to_f32(from_f32<T>(d & 1 ? y1 : y0));
      } else {
        y = to_f32(xr[d]);
      }
    }
    dst[r * ld + d] = y;
  }
}

// NC: O columns per lane (hd <= 32 NC); lane owns columns lane, lane + 32, ...
template <class T, int NC>
__global__ void __launch_bounds__(32 * kGenRows) generic_forward_kernel(const AttnArgs<T> a, int n_qtiles) {
  extern __shared__ float gsm[];
  const int hd = a.hd, ldk = hd | 1;  // odd K stride: lane j reading row j hits bank (j ldk + d) % 32, all distinct
  float* sQ = gsm;                    // (kGenRows, hd)
  float* sK = sQ + kGenRows * hd;     // (kGenKeys, ldk)
  float* sV = sK + kGenKeys * ldk;    // (kGenKeys, hd)
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int bh = blockIdx.x / n_qtiles, qt = n_qtiles - 1 - blockIdx.x % n_qtiles;
  const int b = bh / a.H, q0 = qt * kGenRows, row = q0 + warp;
  const std::int64_t head = std::int64_t(bh) * a.L * hd;
  const float* cb = batch_table(a.cos, a, b);
  const float* sb = batch_table(a.sin, a, b);

  load_rows_f32(sQ, hd, a.q + head, q0, kGenRows, a, cb, sb);
  const float* qr = sQ + warp * hd;
  float o[NC];
#pragma unroll
  for (int c = 0; c < NC; ++c) o[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  const int kv_end = a.causal ? min(a.L, q0 + kGenRows) : a.L;

  for (int j0 = 0; j0 < kv_end; j0 += kGenKeys) {
    __syncthreads();  // the previous tile's readers are done (and sQ is complete, the first time)
    load_rows_f32(sK, ldk, a.k + head, j0, kGenKeys, a, cb, sb);
    load_rows_f32<T>(sV, hd, a.v + head, j0, kGenKeys, a, nullptr, nullptr);
    __syncthreads();
    if (row >= a.L || (a.causal && j0 > row)) continue;  // warp-uniform
    const int j = j0 + lane;
    float s = -INFINITY;
    if (j < a.L && !(a.causal && j > row)) {
      const float* kr = sK + lane * ldk;
      float dot = 0.0f;
      for (int d = 0; d < hd; ++d) dot = fmaf(qr[d], kr[d], dot);
      s = dot * a.scale;
    }
    const float m_new = fmaxf(m, warp_max(s));
    const float m_use = m_new == -INFINITY ? 0.0f : m_new;
    const float alpha = expf(m - m_use), p = expf(s - m_use);
    l = l * alpha + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int c = 0; c < NC; ++c) o[c] *= alpha;
    const int nk = min(kGenKeys, a.L - j0);
    for (int jj = 0; jj < nk; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const float* vr = sV + jj * hd;
#pragma unroll
      for (int c = 0; c < NC; ++c)
        if (lane + 32 * c < hd) o[c] = fmaf(pj, vr[lane + 32 * c], o[c]);
    }
  }

  if (row >= a.L) return;
  const float inv = 1.0f / l;
  T* orow = a.o + head + std::int64_t(row) * hd;
#pragma unroll
  for (int c = 0; c < NC; ++c)
    if (lane + 32 * c < hd) orow[lane + 32 * c] = from_f32<T>(o[c] * inv);
  if (lane == 0) a.lse[std::int64_t(bh) * a.L + row] = m + logf(l);
}

template <class T, int NC>
void launch_generic(Backend be, const AttnArgs<T>& a, std::int64_t BH) {
  const std::size_t smem = generic_smem_bytes(a.hd);
  EVACLIP_CUDA_CHECK(
      cudaFuncSetAttribute(generic_forward_kernel<T, NC>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
      "rope_attention_forward");
  const std::int64_t nq = ceil_div(a.L, kGenRows), grid = BH * nq;
  EVACLIP_CHECK(grid <= 0x7fffffff, "rope_attention_forward: ", BH, " heads x ", a.L, " tokens is too many CTAs");
  generic_forward_kernel<T, NC><<<unsigned(grid), 32 * kGenRows, smem, stream_of(be)>>>(a, int(nq));
  check_launch(be, "rope_attention_forward");
}

// The fused kernel's conditions: 16-bit T, a compiled head dim, 16-byte aligned rows.
template <class T>
bool flash_eligible(const AttnArgs<T>& a) {
  if constexpr (std::is_same_v<T, float>) {
    return false;  // fp32 must stay within 1e-5 of the CPU: no TF32 tensor cores, plain FMAs
  } else {
    const bool dims = a.hd == 64 || a.hd == 88 || a.hd == 112 || a.hd == 128;
    const bool aligned = vec_aligned<T, 8>(a.q) && vec_aligned<T, 8>(a.k) && vec_aligned<T, 8>(a.v) &&
                         vec_aligned<T, 8>(a.o) &&
                         (!a.cos || (vec_aligned<float, 4>(a.cos) && vec_aligned<float, 4>(a.sin)));
    return dims && aligned;
  }
}

template <class T>
void fused_forward(Backend be, const AttnArgs<T>& a, std::int64_t BH) {
  if (flash_eligible(a)) {
    if constexpr (!std::is_same_v<T, float>) {
      switch (a.hd) {
        case 64: return launch_flash<T, 64>(be, a, BH);
        case 88: return launch_flash<T, 88>(be, a, BH);
        case 112: return launch_flash<T, 112>(be, a, BH);
        case 128: return launch_flash<T, 128>(be, a, BH);
      }
    }
  }
  if (a.hd <= 32) return launch_generic<T, 1>(be, a, BH);
  if (a.hd <= 64) return launch_generic<T, 2>(be, a, BH);
  if (a.hd <= 128) return launch_generic<T, 4>(be, a, BH);
  return launch_generic<T, 8>(be, a, BH);
}

}  // namespace attention_detail

// As cpu::rope_attention_forward: o (B, H, L, hd), lse (B, H, L), device pointers. be.fusion.attention
// picks the flash kernel (RoPE on load) or the unfused sequence of attention_unfused.cuh.
template <class T, class Acc>
void rope_attention_forward(Backend be, T* o, Acc* lse, const AttentionArgs<T, Acc>& a) {
  static_assert(std::is_same_v<Acc, float> && !std::is_same_v<T, double>,
                "rope_attention_forward: the CUDA kernels store float/bf16/f16 and compute in float (no fp64)");
  if (a.batch * a.heads == 0 || a.tokens == 0) return;
  if (!be.fusion.attention) return unfused_rope_attention_forward(be, o, lse, a);
  EVACLIP_CHECK(a.head_dim <= 256, "rope_attention_forward: head dim ", a.head_dim, " above the CUDA kernels' 256");
  EVACLIP_CHECK(a.tokens < (std::int64_t(1) << 30) && a.heads < (std::int64_t(1) << 30), "rope_attention_forward: ",
                a.tokens, " tokens x ", a.heads, " heads out of the kernels' int range");
  // The kernels' own copy: 32-bit sizes and a float scale, as their index arithmetic uses them.
  const attention_detail::AttnArgs<T> k{o,        lse,          a.q,           a.k,         a.v,
                                        a.cos,    a.sin,        int(a.heads),  int(a.tokens), int(a.head_dim),
                                        int(a.prefix), a.per_sample, a.causal, float(a.scale)};
  attention_detail::fused_forward(be, k, a.batch * a.heads);
}

// As cpu::attention_forward: o, q, k, v (BH, L, D); lse (BH, L). rope_attention_forward without RoPE.
template <class Acc, class T>
void attention_forward(Backend be, T* o, Acc* lse, const T* q, const T* k, const T* v, std::int64_t BH, std::int64_t L,
                       std::int64_t D, bool causal, double scale) {
  rope_attention_forward(be, o, lse,
                         AttentionArgs<T, Acc>{.q = q, .k = k, .v = v, .batch = 1, .heads = BH, .tokens = L,
                                               .head_dim = D, .causal = causal, .scale = scale});
}

template <class Acc, class T>
void attention_backward(Backend, T*, T*, T*, const T*, const T*, const T*, const T*, const Acc*, std::int64_t,
                        std::int64_t, std::int64_t, bool, double) {
  backward_not_built("attention_backward");
}

template <class T, class Acc>
void rope_attention_backward(Backend, T*, T*, T*, const T*, const Acc*, const AttentionArgs<T, Acc>&) {
  backward_not_built("rope_attention_backward");
}

}  // namespace evaclip::cuda
