// swiglu_layernorm.cuh (cuda) — defines swiglu_layernorm_forward on the device: y = LN(silu(gate) * value) in
// one kernel (or, with be.fusion.swiglu_norm off, the SwiGLU and LayerNorm kernels in sequence);
// swiglu_layernorm_backward is not built yet.
//
// The LayerNorm row kernels of layernorm.cuh over the hidden size F (2048 for B/16, 2730 for L/14: a
// block of up to 512 threads per row; 2730 is not a multiple of 8, so it runs one element per access) with
// a source that reads gate and value once and forms h = silu(gate) * value rounded to T, as the CPU swiglu
// stores it. h lives only in registers: the kernel reads gate, value and writes y (plus mean, rstd), where
// swiglu() then layernorm() would also write and re-read h.
#pragma once

#include <cstdint>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cuda/activations.cuh"
#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"

namespace evaclip::cuda {

namespace rows {

// Rows of swiglu(gate, value), each element rounded to T.
template <class T>
struct SwigluRows {
  const T* gate;
  const T* value;
  std::int64_t C;
  std::uintptr_t addr() const { return addr_bits(gate, value); }
  template <int N, bool kFirst>
  __device__ __forceinline__ void load(std::int64_t row, int e, float (&v)[N]) const {
    const std::int64_t o = row * C + e;
    float a[N], g[N];
    rows::load<T, N>(gate + o, a);
    rows::load<T, N>(value + o, g);
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = to_f32(from_f32<T>(act::swiglu(a[i], g[i])));
  }
};

}  // namespace rows

// y: (R, F); mean, rstd: (R,); gate, value: (R, F); w, b: (F,), b may be null. Device pointers.
// be.fusion.swiglu_norm off: the SwiGLU kernel writes h to scratch, then the LayerNorm kernel reads it back.
template <class Acc, class T>
void swiglu_layernorm_forward(Backend be, T* y, Acc* mean, Acc* rstd, const T* gate, const T* value, const T* w,
                              const T* b, std::int64_t R, std::int64_t F, double eps) {
  if constexpr (!rows::supported_v<Acc, T>) {
    fail("swiglu_layernorm_forward: the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else if (!be.fusion.swiglu_norm) {
    const Tensor h = Tensor::empty({R, F}, dtype_of<T>(), Device::cuda);
    swiglu_forward<Acc>(be, h.data<T>(), gate, value, R * F);
    layernorm_forward<Acc>(be, y, mean, rstd, h.data<T>(), w, b, R, F, eps);
  } else {
    rows::launch_norm_rows(be, "swiglu_layernorm_forward", rows::SwigluRows<T>{gate, value, F}, y, mean, rstd, w, b,
                           R, F, eps);
  }
}

template <class Acc, class T>
void swiglu_layernorm_backward(Backend, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const Acc*,
                               const Acc*, std::int64_t, std::int64_t) {
  backward_not_built("swiglu_layernorm_backward");
}

}  // namespace evaclip::cuda
