// drop_path.cuh (cuda) — defines drop_path_forward (every sample times its own factor); backward not built yet.
//
// One thread per 16-byte vector of x (256 threads per block, as elementwise.cuh); a sample's n values are
// n / N vectors, so the sample index is one multiply-shift division and the factor a cached (B,) load.
// The vector path needs n to be a multiple of the vector width and aligned pointers; else one element per
// thread. One float multiply rounded once: bit-identical to the CPU reference.
#pragma once

#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"

namespace evaclip::cuda {

namespace ew {
// y, x: (B, n) as nv vectors, per_sample = n / N vectors per sample; scale: (B,).
template <int N, class T, class I>
__global__ void __launch_bounds__(kBlock)
    drop_path_kernel(T* y, const T* x, const float* scale, I nv, Divider<I> per_sample) {
  const I v = global_index<I>();
  if (v >= nv) return;
  const float s = scale[per_sample.div(v)];
  const Vec<T, N> xv = load<T, N>(x, v);
  Vec<T, N> yv;
#pragma unroll
  for (int k = 0; k < N; ++k) yv.v[k] = from_f32<T>(to_f32(xv.v[k]) * s);
  store<T, N>(y, v, yv);
}

template <int N, class T, class I>
void launch_drop_path_as(Backend be, T* y, const T* x, const float* scale, std::int64_t B, std::int64_t n) {
  const std::int64_t nv = B * n / N;
  drop_path_kernel<N, T, I><<<blocks_for(nv), kBlock, 0, stream_of(be)>>>(y, x, scale, I(nv), Divider<I>(n / N));
}
}  // namespace ew

// y[b, i] = x[b, i] * scale[b];  y, x: (B, n); scale: (B,) on the device.
template <class Acc, class T>
void drop_path_forward(Backend be, T* y, const T* x, const Acc* scale, std::int64_t B, std::int64_t n) {
  if constexpr (!ew::kSupported<Acc, T>) {
    ew::unsupported("drop_path_forward");
  } else {
    if (B <= 0 || n <= 0) return;
    constexpr int V = kVec16<T>;
    const bool vec = n % V == 0 && vec_aligned<T, V>(y) && vec_aligned<T, V>(x);
    if (vec) {
      if (ew::fits_u32(B * n / V)) ew::launch_drop_path_as<V, T, std::uint32_t>(be, y, x, scale, B, n);
      else ew::launch_drop_path_as<V, T, std::int64_t>(be, y, x, scale, B, n);
    } else {
      if (ew::fits_u32(B * n)) ew::launch_drop_path_as<1, T, std::uint32_t>(be, y, x, scale, B, n);
      else ew::launch_drop_path_as<1, T, std::int64_t>(be, y, x, scale, B, n);
    }
    check_launch(be, "drop_path_forward");
  }
}

template <class Acc, class T>
void drop_path_backward(Backend, T*, const T*, const Acc*, std::int64_t, std::int64_t) {
  backward_not_built("drop_path_backward");
}

}  // namespace evaclip::cuda
