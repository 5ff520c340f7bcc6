// activations.cuh (cuda) — defines gelu_forward (exact erf), silu_forward and swiglu_forward on the device;
// their backward kernels are not built yet.
//
// Element-wise, so purely bandwidth-bound: a grid-stride loop of 256-thread blocks, capped at 4096 blocks
// (enough resident threads to fill an H200 several times over, few enough that each thread streams several
// vectors), each thread moving 16 bytes per operand per step when every pointer is 16-byte aligned; the
// n % N tail (and every element when a pointer is not aligned) goes one element at a time. The formulas are
// the CPU reference's, in float: gelu(x) = x Φ(x), silu(x) = x σ(x), swiglu(a, g) = silu(a) g.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "evaclip/ops/cuda/common.cuh"

namespace evaclip::cuda {

namespace act {

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }  // expf(inf) = inf: 0
__device__ __forceinline__ float gelu(float x) { return x * (0.5f * (1.0f + erff(x / 1.41421356237309504880f))); }
__device__ __forceinline__ float silu(float x) { return x * sigmoid(x); }
__device__ __forceinline__ float swiglu(float a, float g) { return a * sigmoid(a) * g; }

struct Gelu {
  __device__ float operator()(float a, float) const { return gelu(a); }
};
struct Silu {
  __device__ float operator()(float a, float) const { return silu(a); }
};
struct Swiglu {
  __device__ float operator()(float a, float g) const { return swiglu(a, g); }
};

inline constexpr int kThreads = 256;
inline constexpr std::int64_t kMaxBlocks = 4096;

// y[i] = f(a[i], g[i]) over n elements (g is read only when kBinary); N elements per vector step.
template <class T, int N, bool kBinary, class F>
__global__ void __launch_bounds__(kThreads) map_kernel(T* y, const T* a, const T* g, std::int64_t n, F f) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  const std::int64_t first = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t nv = N > 1 ? n / N : 0;
  for (std::int64_t i = first; i < nv; i += stride) {
    const Vec<T, N> av = reinterpret_cast<const Vec<T, N>*>(a)[i];
    Vec<T, N> gv, out;
    if constexpr (kBinary) gv = reinterpret_cast<const Vec<T, N>*>(g)[i];
#pragma unroll
    for (int k = 0; k < N; ++k) out.v[k] = from_f32<T>(f(to_f32(av.v[k]), kBinary ? to_f32(gv.v[k]) : 0.0f));
    reinterpret_cast<Vec<T, N>*>(y)[i] = out;
  }
  for (std::int64_t i = nv * N + first; i < n; i += stride)
    y[i] = from_f32<T>(f(to_f32(a[i]), kBinary ? to_f32(g[i]) : 0.0f));
}

template <class Acc, class T, bool kBinary, class F>
void launch_map(Backend be, const char* op, T* y, const T* a, const T* g, std::int64_t n, F f) {
  if constexpr (!std::is_same_v<Acc, float> || std::is_same_v<T, double>) {
    fail(op, ": the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
  } else {
    if (n <= 0) return;
    constexpr int NV = kVec16<T>;
    const bool vec = vec_aligned<T, NV>(y) && vec_aligned<T, NV>(a) && (!kBinary || vec_aligned<T, NV>(g));
    const std::int64_t work = vec ? std::max<std::int64_t>(n / NV, 1) : n;
    const unsigned blocks = unsigned(std::min(ceil_div(work, kThreads), kMaxBlocks));
    if (vec) map_kernel<T, NV, kBinary><<<blocks, kThreads, 0, stream_of(be)>>>(y, a, g, n, f);
    else map_kernel<T, 1, kBinary><<<blocks, kThreads, 0, stream_of(be)>>>(y, a, g, n, f);
    check_launch(be, op);
  }
}

}  // namespace act

// y = gelu(x) over n elements (device pointers).
template <class Acc, class T>
void gelu_forward(Backend be, T* y, const T* x, std::int64_t n) {
  act::launch_map<Acc, T, false>(be, "gelu_forward", y, x, static_cast<const T*>(nullptr), n, act::Gelu{});
}

// y = silu(x) over n elements.
template <class Acc, class T>
void silu_forward(Backend be, T* y, const T* x, std::int64_t n) {
  act::launch_map<Acc, T, false>(be, "silu_forward", y, x, static_cast<const T*>(nullptr), n, act::Silu{});
}

// y = silu(a) * g over n elements (a: the gate, g: the value).
template <class Acc, class T>
void swiglu_forward(Backend be, T* y, const T* a, const T* g, std::int64_t n) {
  act::launch_map<Acc, T, true>(be, "swiglu_forward", y, a, g, n, act::Swiglu{});
}

template <class Acc, class T>
void gelu_backward(Backend, T*, const T*, const T*, std::int64_t) {
  backward_not_built("gelu_backward");
}
template <class Acc, class T>
void silu_backward(Backend, T*, const T*, const T*, std::int64_t) {
  backward_not_built("silu_backward");
}
template <class Acc, class T>
void swiglu_backward(Backend, T*, T*, const T*, const T*, const T*, std::int64_t) {
  backward_not_built("swiglu_backward");
}

}  // namespace evaclip::cuda
