// l2_normalize.cuh (cuda) — defines l2_normalize_forward on the device: rows scaled to unit length,
// y = x / max(||x||, eps), the norms saved (float) for the backward; l2_normalize_backward is not built yet.
//
// The row machinery of layernorm.cuh: a warp per row up to C = 1024 (the embeddings: 512..1024), else a
// block per row, the row cached in float registers in 16-byte chunks (one element per access for odd
// widths), so x is read once; rows wider than the cache re-read x.
#pragma once

#include <cmath>
#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"

namespace evaclip::cuda {

namespace rows {

template <class T, int N, int V, bool kWarp>
__global__ void __launch_bounds__(kWarp ? 32 * kWarpRows : kMaxBlockThreads)
    l2_normalize_cached(T* y, float* norm, const T* x, std::int64_t R, int C, float eps) {
  __shared__ float scratch[32];
  const RowThread<kWarp> rt;
  if (rt.row >= R) return;
  const T* xr = x + rt.row * C;
  RowCache<N, V> c;
  float ss = 0;
  c.each(rt.t, rt.G, C, [&](int e, float(&v)[N]) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) ss += v[i] * v[i];
  });
  const float nrm = sqrtf(row_sum<kWarp>(ss, scratch));
  if (rt.t == 0) norm[rt.row] = nrm;
  const float inv = 1.0f / fmaxf(nrm, eps);
  T* yr = y + rt.row * C;
  c.each(rt.t, rt.G, C, [&](int e, float(&v)[N]) {
    float o[N];
#pragma unroll
    for (int i = 0; i < N; ++i) o[i] = v[i] * inv;
    store<T, N>(yr + e, o);
  });
}

template <class T, int N>
__global__ void __launch_bounds__(kMaxBlockThreads) l2_normalize_uncached(T* y, float* norm, const T* x, int C, float eps) {
  __shared__ float scratch[32];
  const T* xr = x + std::int64_t(blockIdx.x) * C;
  T* yr = y + std::int64_t(blockIdx.x) * C;
  const int step = int(blockDim.x) * N;
  float v[N], ss = 0;
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) ss += v[i] * v[i];
  }
  const float nrm = sqrtf(block_sum(ss, scratch));
  if (threadIdx.x == 0) norm[blockIdx.x] = nrm;
  const float inv = 1.0f / fmaxf(nrm, eps);
  for (int e = int(threadIdx.x) * N; e < C; e += step) {
    load<T, N>(xr + e, v);
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] *= inv;
    store<T, N>(yr + e, v);
  }
}

}  // namespace rows

// y: (R, C); norm: (R,); x: (R, C). Device pointers.
template <class Acc, class T>
void l2_normalize_forward(Backend be, T* y, Acc* norm, const T* x, std::int64_t R, std::int64_t C, double eps) {
  if constexpr (!rows::supported_v<Acc, T>) {
    fail("l2_normalize_forward: the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else {
    rows::dispatch<T>(R, C, rows::addr_bits(static_cast<const T*>(y), x), [&](auto nc, auto vc, auto mc, const rows::Plan& p) {
      constexpr int N = decltype(nc)::value, V = decltype(vc)::value;
      constexpr rows::Mode M = decltype(mc)::value;
      if constexpr (M == rows::Mode::uncached)
        rows::l2_normalize_uncached<T, N>
            <<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(y, norm, x, int(C), float(eps));
      else
        rows::l2_normalize_cached<T, N, V, M == rows::Mode::warp>
            <<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(y, norm, x, R, int(C), float(eps));
    });
    check_launch(be, "l2_normalize_forward");
  }
}

template <class Acc, class T>
void l2_normalize_backward(Backend, T*, const T*, const T*, const Acc*, std::int64_t, std::int64_t, double) {
  backward_not_built("l2_normalize_backward");
}

}  // namespace evaclip::cuda
