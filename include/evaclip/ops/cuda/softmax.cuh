// softmax.cuh (cuda) — defines softmax_forward on the device (softmax over the last dimension);
// softmax_backward is not built yet.
//
// The row machinery of layernorm.cuh: a warp per row up to C = 1024 (attention rows of 197..577 tokens),
// else a block per row, the row cached in float registers in 16-byte chunks (one element per access for
// odd widths), so x is read once: max, then exp(x - max) kept in the cache, their sum, then y. Rows wider
// than the cache take a block-per-row kernel that re-reads x. As the CPU kernel: -inf entries (masked
// positions) give 0, and a row with no finite entry gives NaN.
#pragma once

#include <cmath>
#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"

namespace evaclip::cuda {

namespace rows {

// Loads row xr into the cache and returns its maximum (every thread of the row gets it). Shared with the
// log-sum-exp of cross_entropy.cuh.
template <class T, int N, int V, bool kWarp>
__device__ __forceinline__ float load_row_max(RowCache<N, V>& c, const RowThread<kWarp>& rt, const T* xr, int C,
                                              float* scratch) {
  float mx = -INFINITY;
  c.each(rt.t, rt.G, C, [&](int e, float(&v)[N]) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) mx = fmaxf(mx, v[i]);
  });
  return row_max<kWarp>(mx, scratch);
}

// For a row too wide for the cache (one block per row): its maximum mx and s = sum exp(x - mx), in two
// reads of the row; every thread gets both.
template <class T, int N>
__device__ __forceinline__ void uncached_max_sumexp(const T* xr, int C, float* scratch, float& mx, float& s) {
  const int step = int(blockDim.x) * N;
  float v[N];
  mx = -INFINITY;
  s = 0;
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) mx = fmaxf(mx, v[i]);
  }
  mx = block_max(mx, scratch);
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) s += expf(v[i] - mx);
  }
  s = block_sum(s, scratch);
}

template <class T, int N, int V, bool kWarp>
__global__ void __launch_bounds__(kWarp ? 32 * kWarpRows : kMaxBlockThreads)
    softmax_cached(T* y, const T* x, std::int64_t R, int C) {
  __shared__ float scratch[32];
  const RowThread<kWarp> rt;
  if (rt.row >= R) return;
  const T* xr = x + rt.row * C;
  RowCache<N, V> c;
  const float mx = load_row_max<T, N, V, kWarp>(c, rt, xr, C, scratch);
  float s = 0;
  c.each(rt.t, rt.G, C, [&](int, float(&v)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) s += (v[i] = expf(v[i] - mx));
  });
  const float inv = 1.0f / row_sum<kWarp>(s, scratch);
  T* yr = y + rt.row * C;
  c.each(rt.t, rt.G, C, [&](int e, float(&v)[N]) {
    float o[N];
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] = v[i] * inv;
    store<T, N>(yr + e, o);
  });
}

template <class T, int N>
__global__ void __launch_bounds__(kMaxBlockThreads) softmax_uncached(T* y, const T* x, int C) {
  __shared__ float scratch[32];
  const T* xr = x + std::int64_t(blockIdx.x) * C;
  T* yr = y + std::int64_t(blockIdx.x) * C;
  float mx, s, v[N];
  uncached_max_sumexp<T, N>(xr, C, scratch, mx, s);
  const float inv = 1.0f / s;
  for (int e = int(threadIdx.x) * N; e < C; e += int(blockDim.x) * N) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = expf(v[i] - mx) * inv;
    store<T, N>(yr + e, v);
  }
}

}  // namespace rows

// y, x: (R, C), device pointers.
template <class Acc, class T>
void softmax_forward(Backend be, T* y, const T* x, std::int64_t R, std::int64_t C) {
  if constexpr (!rows::supported_v<Acc, T>) {
    fail("softmax_forward: the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else {
    rows::dispatch<T>(R, C, rows::addr_bits(static_cast<const T*>(y), x), [&](auto nc, auto vc, auto mc, const rows::Plan& p) {
      constexpr int N = decltype(nc)::value, V = decltype(vc)::value;
      constexpr rows::Mode M = decltype(mc)::value;
      if constexpr (M == rows::Mode::uncached)
        rows::softmax_uncached<T, N><<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(y, x, int(C));
      else
        rows::softmax_cached<T, N, V, M == rows::Mode::warp>
            <<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(y, x, R, int(C));
    });
    check_launch(be, "softmax_forward");
  }
}

template <class Acc, class T>
void softmax_backward(Backend, T*, const T*, const T*, std::int64_t, std::int64_t) {
  backward_not_built("softmax_backward");
}

}  // namespace evaclip::cuda
