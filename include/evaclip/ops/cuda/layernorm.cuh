// layernorm.cuh (cuda) — defines layernorm_forward on the device, and the row machinery that the other
// per-row kernels (add_layernorm, swiglu_layernorm, softmax, l2_normalize, cross_entropy) share.
//
// A row of C elements is owned by a group of G threads: one warp (4 rows per 128-thread block) when
// C <= 1024, else one block of up to 512 threads (the E/14 width 1792, SwiGLU hidden sizes up to 16384).
// Each thread caches V chunks of N contiguous elements in float registers: chunk k of thread t starts at
// element (k G + t) N, so a warp's accesses of one chunk index are contiguous. N is 16 bytes of T when C
// is a multiple of it and every pointer is 16-byte aligned, else 2 for 16-bit T when C is even (2730),
// else 1 (odd widths such as 33). At
// most 32 cached floats per thread keeps the kernels spill-free under their launch bounds, so the row is
// read from device memory once and the statistics are exact two-pass ones over the registers. Rows wider
// than the cache (more than 512 threads' worth) take an uncached kernel that re-reads the row (from L2).
// LayerNorm saves mean and rstd (float) per row, as the CPU kernel does, for the backward.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "evaclip/ops/cuda/common.cuh"

namespace evaclip::cuda {

namespace rows {

// CUDA kernels compute in float on float/bf16/f16 storage; an fp64 policy runs on the CPU backend.
template <class Acc, class T>
inline constexpr bool supported_v = std::is_same_v<Acc, float> && !std::is_same_v<T, double>;

inline constexpr int kMaxChunks = 8;        // V <= 8
inline constexpr int kMaxCached = 32;       // V * N <= 32 floats per thread (or V = 1)
inline constexpr int kWarpRows = 4;         // rows (warps) per block on the warp path
inline constexpr int kMaxBlockThreads = 512;

enum class Mode { warp, block, uncached };

// N elements at p (aligned for Vec<T, N>) to float / from float.
template <class T, int N>
__device__ __forceinline__ void load(const T* p, float (&v)[N]) {
  if constexpr (N == 1) {
    v[0] = to_f32(*p);
  } else {
    const Vec<T, N> u = *reinterpret_cast<const Vec<T, N>*>(p);
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = to_f32(u.v[i]);
  }
}
template <class T, int N>
__device__ __forceinline__ void store(T* p, const float (&v)[N]) {
  if constexpr (N == 1) {
    *p = from_f32<T>(v[0]);
  } else {
    Vec<T, N> u;
#pragma unroll
    for (int i = 0; i < N; ++i) u.v[i] = from_f32<T>(v[i]);
    *reinterpret_cast<Vec<T, N>*>(p) = u;
  }
}

// Max over a block (blockDim.x a multiple of 32); as block_sum, every thread gets it and scratch (32
// floats of shared memory) may be reused by the next call.
__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

// Reductions over the threads that share a row. kWarp: the row's warp; else the whole block.
template <bool kWarp>
__device__ __forceinline__ float row_sum(float v, float* scratch) {
  if constexpr (kWarp) return warp_sum(v);
  else return block_sum(v, scratch);
}
template <bool kWarp>
__device__ __forceinline__ float row_max(float v, float* scratch) {
  if constexpr (kWarp) return warp_max(v);
  else return block_max(v, scratch);
}

// This thread's row, its index t among the row's G threads.
template <bool kWarp>
struct RowThread {
  std::int64_t row;
  int t, G;
  __device__ RowThread() {
    if constexpr (kWarp) {
      row = std::int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
      t = int(threadIdx.x % 32);
      G = 32;
    } else {
      row = blockIdx.x;
      t = int(threadIdx.x);
      G = int(blockDim.x);
    }
  }
};

// The V chunks of N elements one thread caches from its row (compile-time indexed: stays in registers).
template <int N, int V>
struct RowCache {
  float v[V][N];
  // Calls f(e, chunk) for each of this thread's chunks inside the row (e: the chunk's first element).
  template <class F>
  __device__ __forceinline__ void each(int t, int G, int C, F&& f) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int e = (k * G + t) * N;
      if (e < C) f(e, v[k]);
    }
  }
};

// How a launch covers R rows of C: the mode, chunk width N, chunks per thread V, grid and block.
struct Plan {
  Mode mode;
  int n, v, threads;
  std::int64_t blocks;
};

inline int round_up32(std::int64_t x) { return int(ceil_div(x, 32) * 32); }

// n: the chunk width dispatch chose (16 bytes of T, 2 or 1 elements).
inline Plan plan(std::int64_t R, std::int64_t C, int n) {
  const std::int64_t units = C / n;  // C % n == 0 by the caller's choice of n
  const int vmax = std::max(1, std::min(kMaxChunks, kMaxCached / n));
  if (C <= 1024 && units <= 32 * vmax) {
    int v = 1;
    while (32 * v < units) v *= 2;
    return {Mode::warp, n, v, 32 * kWarpRows, ceil_div(R, kWarpRows)};
  }
  // Block per row: the fewest chunks per thread that fit 256 threads (a small block, so several rows share
  // an SM), else as many as allowed with up to 512 threads.
  for (int v = 1; v <= vmax; v *= 2)
    if (round_up32(ceil_div(units, v)) <= 256) return {Mode::block, n, v, round_up32(ceil_div(units, v)), R};
  if (round_up32(ceil_div(units, vmax)) <= kMaxBlockThreads)
    return {Mode::block, n, vmax, round_up32(ceil_div(units, vmax)), R};
  return {Mode::uncached, n, 1, kMaxBlockThreads, R};
}

// The OR of the addresses of a kernel's pointers: aligned to a power of two B bytes iff all of them are.
template <class... P>
std::uintptr_t addr_bits(const P*... p) {
  return (std::uintptr_t(0) | ... | reinterpret_cast<std::uintptr_t>(p));
}

// Calls launch(N, V, mode, plan) with N, V and mode as std::integral_constant. N is the widest chunk that
// divides C and that every pointer is aligned to (addr: their addr_bits): 16 bytes, else 2 elements for the
// 16-bit types (4-byte accesses, e.g. 2730 = 2 x 1365), else 1. Only the (N, V) pairs the plan can choose
// are instantiated: V * N <= 32 or V == 1.
template <class T, class F>
void dispatch(std::int64_t R, std::int64_t C, std::uintptr_t addr, F&& launch) {
  EVACLIP_CHECK(C > 0 && C <= std::numeric_limits<int>::max() / 2, "row kernel: width ", C, " out of range");
  if (R == 0) return;
  constexpr int NV = kVec16<T>;
  constexpr int N2 = sizeof(T) == 2 ? 2 : 1;
  auto fits = [&](int n) { return C % n == 0 && addr % (std::uintptr_t(n) * sizeof(T)) == 0; };
  const int n = fits(NV) ? NV : fits(N2) ? N2 : 1;
  const Plan p = plan(R, C, n);
  auto with_n = [&](auto nc) {
    constexpr int N = decltype(nc)::value;
    using W = std::integral_constant<Mode, Mode::warp>;
    using Bk = std::integral_constant<Mode, Mode::block>;
    using U = std::integral_constant<Mode, Mode::uncached>;
    auto with_v = [&](auto mc) {
      switch (p.v) {
        case 1: launch(nc, std::integral_constant<int, 1>{}, mc, p); break;
        case 2: if constexpr (2 * N <= kMaxCached) launch(nc, std::integral_constant<int, 2>{}, mc, p); break;
        case 4: if constexpr (4 * N <= kMaxCached) launch(nc, std::integral_constant<int, 4>{}, mc, p); break;
        default: if constexpr (8 * N <= kMaxCached) launch(nc, std::integral_constant<int, 8>{}, mc, p); break;
      }
    };
    if (p.mode == Mode::warp) with_v(W{});
    else if (p.mode == Mode::block) with_v(Bk{});
    else launch(nc, std::integral_constant<int, 1>{}, U{}, p);
  };
  if (n == NV) with_n(std::integral_constant<int, NV>{});
  else if (n == N2) with_n(std::integral_constant<int, N2>{});
  else with_n(std::integral_constant<int, 1>{});
}

// ---- LayerNorm over rows whose elements come from a source ----
//
// Src supplies a row's elements: src.load<N, kFirst>(row, e, v) fills v with elements [e, e + N) of the row
// (kFirst: the first of possibly several reads of that chunk, when it may also write side outputs, e.g.
// add_layernorm's sum), and src.addr() is the addr_bits of its pointers.

// y: (R, C); mean, rstd: (R,); w, b: (C,), b may be null.
template <class T, int N, int V, bool kWarp, class Src>
__global__ void __launch_bounds__(kWarp ? 32 * kWarpRows : kMaxBlockThreads)
    norm_rows_cached(Src src, T* y, float* mean, float* rstd, const T* w, const T* b, std::int64_t R, int C, float eps) {
  __shared__ float scratch[32];
  const RowThread<kWarp> rt;
  if (rt.row >= R) return;  // whole warps only (warp path); the block path has one block per row
  RowCache<N, V> c;
  float s = 0;
  c.each(rt.t, rt.G, C, [&](int e, float(&v)[N]) {
    src.template load<N, true>(rt.row, e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) s += v[i];
  });
  const float m = row_sum<kWarp>(s, scratch) / float(C);
  float q = 0;  // two-pass variance over the cached row
  c.each(rt.t, rt.G, C, [&](int, float(&v)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) q += (v[i] - m) * (v[i] - m);
  });
  const float rs = 1.0f / sqrtf(row_sum<kWarp>(q, scratch) / float(C) + eps);
  if (rt.t == 0) mean[rt.row] = m, rstd[rt.row] = rs;
  T* yr = y + rt.row * C;
  c.each(rt.t, rt.G, C, [&](int e, float(&v)[N]) {
    float wv[N], bv[N], o[N];
    load<T, N>(w + e, wv);
    if (b) load<T, N>(b + e, bv);
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] = (v[i] - m) * rs * wv[i] + (b ? bv[i] : 0.0f);
    store<T, N>(yr + e, o);
  });
}

// The same for rows wider than the register cache: one block per row, three reads of the row.
template <class T, int N, class Src>
__global__ void __launch_bounds__(kMaxBlockThreads)
    norm_rows_uncached(Src src, T* y, float* mean, float* rstd, const T* w, const T* b, int C, float eps) {
  __shared__ float scratch[32];
  const std::int64_t row = blockIdx.x;
  const int step = int(blockDim.x) * N;
  float v[N], s = 0, q = 0;
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    src.template load<N, true>(row, e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) s += v[i];
  }
  const float m = block_sum(s, scratch) / float(C);
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    src.template load<N, false>(row, e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) q += (v[i] - m) * (v[i] - m);
  }
  const float rs = 1.0f / sqrtf(block_sum(q, scratch) / float(C) + eps);
  if (threadIdx.x == 0) mean[row] = m, rstd[row] = rs;
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    float wv[N], bv[N], o[N];
    src.template load<N, false>(row, e, v);
    load<T, N>(w + e, wv);
    if (b) load<T, N>(b + e, bv);
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] = (v[i] - m) * rs * wv[i] + (b ? bv[i] : 0.0f);
    store<T, N>(y + row * C + e, o);
  }
}

// Launches the LayerNorm of Src's rows (op names the caller in launch errors).
template <class T, class Src>
void launch_norm_rows(Backend be, const char* op, const Src& src, T* y, float* mean, float* rstd, const T* w,
                      const T* b, std::int64_t R, std::int64_t C, double eps) {
  dispatch<T>(R, C, src.addr() | addr_bits(y, w, b), [&](auto nc, auto vc, auto mc, const Plan& p) {
    constexpr int N = decltype(nc)::value, V = decltype(vc)::value;
    constexpr Mode M = decltype(mc)::value;
    if constexpr (M == Mode::uncached)
      norm_rows_uncached<T, N><<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(src, y, mean, rstd, w, b, int(C),
                                                                                     float(eps));
    else
      norm_rows_cached<T, N, V, M == Mode::warp><<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(
          src, y, mean, rstd, w, b, R, int(C), float(eps));
  });
  check_launch(be, op);
}

// Rows of a plain (R, C) tensor.
template <class T>
struct PlainRows {
  const T* x;
  std::int64_t C;
  std::uintptr_t addr() const { return addr_bits(x); }
  template <int N, bool kFirst>
  __device__ __forceinline__ void load(std::int64_t row, int e, float (&v)[N]) const {
    rows::load<T, N>(x + row * C + e, v);
  }
};

}  // namespace rows

// y: (R, C); mean, rstd: (R,); x: (R, C); w, b: (C,), b may be null. Device pointers.
template <class Acc, class T>
void layernorm_forward(Backend be, T* y, Acc* mean, Acc* rstd, const T* x, const T* w, const T* b, std::int64_t R,
                       std::int64_t C, double eps) {
  if constexpr (!rows::supported_v<Acc, T>) {
    fail("layernorm_forward: the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else {
    rows::launch_norm_rows(be, "layernorm_forward", rows::PlainRows<T>{x, C}, y, mean, rstd, w, b, R, C, eps);
  }
}

template <class Acc, class T>
void layernorm_backward(Backend, T*, T*, T*, const T*, const T*, const T*, const Acc*, const Acc*, std::int64_t,
                        std::int64_t) {
  backward_not_built("layernorm_backward");
}

}  // namespace evaclip::cuda
