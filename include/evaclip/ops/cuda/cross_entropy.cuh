// cross_entropy.cuh (cuda) — defines cross_entropy_forward on the device: the mean softmax cross-entropy,
// saving each row's log-sum-exp (float) for the backward; cross_entropy_backward is not built yet.
//
// Two launches. The row kernel (row machinery of layernorm.cuh: a warp per row up to C = 1024, else a
// block; the row cached in float registers, read once; rows wider than the cache re-read it) computes
// lse = max + log sum exp(x - max) as the CPU kernel does. Then one 1024-thread block sums
// lse_r - logits[r, label_r] over the rows in a fixed order (a thread per strided subset, then the block
// tree) and writes the mean: deterministic, as the CPU kernel's column_reduce, and no scratch buffer.
#pragma once

#include <cmath>
#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/softmax.cuh"

namespace evaclip::cuda {

namespace rows {

template <class T, int N, int V, bool kWarp>
__global__ void __launch_bounds__(kWarp ? 32 * kWarpRows : kMaxBlockThreads)
    logsumexp_cached(float* lse, const T* x, std::int64_t R, int C) {
  __shared__ float scratch[32];
  const RowThread<kWarp> rt;
  if (rt.row >= R) return;
  const T* xr = x + rt.row * C;
  RowCache<N, V> c;
  const float mx = load_row_max<T, N, V, kWarp>(c, rt, xr, C, scratch);
  float s = 0;
  c.each(rt.t, rt.G, C, [&](int, float(&v)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) s += expf(v[i] - mx);
  });
  s = row_sum<kWarp>(s, scratch);
  if (rt.t == 0) lse[rt.row] = mx + logf(s);
}

template <class T, int N>
__global__ void __launch_bounds__(kMaxBlockThreads) logsumexp_uncached(float* lse, const T* x, int C) {
  __shared__ float scratch[32];
  const T* xr = x + std::int64_t(blockIdx.x) * C;
  float mx, s;
  uncached_max_sumexp<T, N>(xr, C, scratch, mx, s);
  if (threadIdx.x == 0) lse[blockIdx.x] = mx + logf(s);
}

inline constexpr int kMeanThreads = 1024;

// loss[0] = (1/N) sum_r (lse_r - logits[r, labels_r]); one block of kMeanThreads.
template <class T>
__global__ void __launch_bounds__(kMeanThreads)
    cross_entropy_mean(T* loss, const float* lse, const T* logits, const std::int64_t* labels, std::int64_t N,
                       std::int64_t C) {
  __shared__ float scratch[32];
  float s = 0;
  for (std::int64_t r = threadIdx.x; r < N; r += blockDim.x) s += lse[r] - to_f32(logits[r * C + labels[r]]);
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) loss[0] = from_f32<T>(s / float(N));
}

}  // namespace rows

// loss: a single value; lse: (N,); logits: (N, C); labels: (N,), each in [0, C) (checked by the caller).
// Device pointers.
template <class Acc, class T>
void cross_entropy_forward(Backend be, T* loss, Acc* lse, const T* logits, const std::int64_t* labels,
                           std::int64_t N, std::int64_t C) {
  if constexpr (!rows::supported_v<Acc, T>) {
    fail("cross_entropy_forward: the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else {
    rows::dispatch<T>(N, C, rows::addr_bits(logits), [&](auto nc, auto vc, auto mc, const rows::Plan& p) {
      constexpr int Nc = decltype(nc)::value, V = decltype(vc)::value;
      constexpr rows::Mode M = decltype(mc)::value;
      if constexpr (M == rows::Mode::uncached)
        rows::logsumexp_uncached<T, Nc><<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(lse, logits, int(C));
      else
        rows::logsumexp_cached<T, Nc, V, M == rows::Mode::warp>
            <<<unsigned(p.blocks), p.threads, 0, stream_of(be)>>>(lse, logits, N, int(C));
    });
    rows::cross_entropy_mean<T><<<1, rows::kMeanThreads, 0, stream_of(be)>>>(loss, lse, logits, labels, N, C);
    check_launch(be, "cross_entropy_forward");
  }
}

template <class Acc, class T>
void cross_entropy_backward(Backend, T*, const T*, const T*, const std::int64_t*, const Acc*, std::int64_t,
                            std::int64_t) {
  backward_not_built("cross_entropy_backward");
}

}  // namespace evaclip::cuda
