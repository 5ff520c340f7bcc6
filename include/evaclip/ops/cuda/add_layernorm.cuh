// add_layernorm.cuh (cuda) — defines add_layernorm_forward on the device: sum = x + r and y = LN(sum) in one
// kernel (or, with be.fusion.add_norm off, the add and LayerNorm kernels in sequence); add_layernorm_backward
// is not built yet.
//
// The LayerNorm row kernels of layernorm.cuh (warp per row up to C = 1024, else block per row; 16-byte
// chunks cached in registers) with a source that reads x and r once, rounds their sum to T exactly as the
// CPU add stores it, writes that sum (the residual stream) and caches it for the two-pass statistics and
// y. Minimal traffic: read x, r; write sum, y (plus the per-row mean and rstd).
#pragma once

#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"

namespace evaclip::cuda {

namespace rows {

// Rows of x + r, each element rounded to T; the first read of a chunk also stores it to sum.
template <class T>
struct AddRows {
  const T* x;
  const T* r;
  T* sum;
  std::int64_t C;
  std::uintptr_t addr() const { return addr_bits(x, r, static_cast<const T*>(sum)); }
  template <int N, bool kFirst>
  __device__ __forceinline__ void load(std::int64_t row, int e, float (&v)[N]) const {
    const std::int64_t o = row * C + e;
    float a[N], c[N];
    rows::load<T, N>(x + o, a);
    rows::load<T, N>(r + o, c);
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = to_f32(from_f32<T>(a[i] + c[i]));
    if constexpr (kFirst) rows::store<T, N>(sum + o, v);  // v holds T values: stored without a second rounding
  }
};

}  // namespace rows

// sum, y: (R, C); mean, rstd: (R,); x, r: (R, C); w, b: (C,), b may be null. Device pointers.
// be.fusion.add_norm off: the add kernel, then the LayerNorm kernel reading the sum back.
template <class Acc, class T>
void add_layernorm_forward(Backend be, T* sum, T* y, Acc* mean, Acc* rstd, const T* x, const T* r, const T* w,
                           const T* b, std::int64_t R, std::int64_t C, double eps) {
  if constexpr (!rows::supported_v<Acc, T>) {
    fail("add_layernorm_forward: the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else if (!be.fusion.add_norm) {
    add_forward<Acc>(be, sum, x, r, std::int64_t(1), R * C);  // same shapes: one "row" of R * C
    layernorm_forward<Acc>(be, y, mean, rstd, sum, w, b, R, C, eps);
  } else {
    rows::launch_norm_rows(be, "add_layernorm_forward", rows::AddRows<T>{x, r, sum, C}, y, mean, rstd, w, b, R, C,
                           eps);
  }
}

template <class Acc, class T>
void add_layernorm_backward(Backend, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const Acc*, const Acc*,
                            std::int64_t, std::int64_t) {
  backward_not_built("add_layernorm_backward");
}

}  // namespace evaclip::cuda
