// rope.cuh (cuda) — defines rope2d_forward: EVA-02's 2D rotary embedding of adjacent pairs (the unfused
// path; attention fuses it); the backward is not built yet.
//
// For token t >= prefix, with c = cos[t - prefix], s = sin[t - prefix] (rows of hd floats, per sample or
// shared):  y[2j] = x[2j] c[2j] - x[2j+1] s[2j];  y[2j+1] = x[2j+1] c[2j+1] + x[2j] s[2j+1]. Tokens
// t < prefix (CLS) are copied bit for bit.
//
// Design: one thread per 16-byte vector of x (N = 8 bf16/f16 = 4 pairs, or 4 floats = 2 pairs), 256
// threads per block; its cos/sin values are N consecutive floats read as float4s (the shared table is a
// few hundred KB and stays in L2; a per-sample table is read by the H heads of its sample back to back).
// Vector v is row (b, h, t) = v / (hd / N): three multiply-shift divisions give t and b. The vector path
// needs hd to be a multiple of N and 16-byte aligned pointers; otherwise one pair per thread with scalar
// accesses. The products may be fused into FMAs, so results match the CPU within rounding, not bitwise.
#pragma once

#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"

namespace evaclip::cuda {

namespace ew {
// y, x: (B H L, hd / N) vectors; cos, sin: (L - prefix, hd), or (B, L - prefix, hd) with table_stride
// (L - prefix) hd between samples (0 when shared).
template <int N, bool kVecIO, class T, class I>
__global__ void __launch_bounds__(kBlock)
    rope2d_kernel(T* y, const T* x, const float* cos, const float* sin, I nv, Divider<I> row_vecs, Divider<I> L,
                  Divider<I> HL, I prefix, std::int64_t table_stride, std::int64_t hd) {
  static_assert(N % 2 == 0 && (!kVecIO || N % 4 == 0), "rope2d_kernel: whole pairs, whole float4s");
  const I v = global_index<I>();
  if (v >= nv) return;
  const I row = row_vecs.div(v), c = v - row * row_vecs.d;
  const I t = row - L.div(row) * L.d;
  Vec<T, N> xv;
  if constexpr (kVecIO) {
    xv = load<T, N>(x, v);
  } else {
#pragma unroll
    for (int k = 0; k < N; ++k) xv.v[k] = x[std::int64_t(v) * N + k];
  }
  Vec<T, N> yv;
  if (t < prefix) {
    yv = xv;
  } else {
    const std::int64_t at =
        std::int64_t(HL.div(row)) * table_stride + std::int64_t(t - prefix) * hd + std::int64_t(c) * N;
    float cv[N], sv[N];
    if constexpr (kVecIO) {
#pragma unroll
      for (int q = 0; q < N / 4; ++q) {
        const float4 c4 = reinterpret_cast<const float4*>(cos + at)[q],
                     s4 = reinterpret_cast<const float4*>(sin + at)[q];
        cv[4 * q] = c4.x, cv[4 * q + 1] = c4.y, cv[4 * q + 2] = c4.z, cv[4 * q + 3] = c4.w;
        sv[4 * q] = s4.x, sv[4 * q + 1] = s4.y, sv[4 * q + 2] = s4.z, sv[4 * q + 3] = s4.w;
      }
    } else {
#pragma unroll
      for (int k = 0; k < N; ++k) cv[k] = cos[at + k], sv[k] = sin[at + k];
    }
#pragma unroll
    for (int k = 0; k < N; k += 2) {
      const float x0 = to_f32(xv.v[k]), x1 = to_f32(xv.v[k + 1]);
      yv.v[k] = from_f32<T>(x0 * cv[k] - x1 * sv[k]);
      yv.v[k + 1] = from_f32<T>(x1 * cv[k + 1] + x0 * sv[k + 1]);
    }
  }
  if constexpr (kVecIO) {
    store<T, N>(y, v, yv);
  } else {
#pragma unroll
    for (int k = 0; k < N; ++k) y[std::int64_t(v) * N + k] = yv.v[k];
  }
}

template <int N, bool kVecIO, class T, class I>
void launch_rope2d_as(Backend be, T* y, const T* x, const float* cos, const float* sin, std::int64_t B, std::int64_t H,
                      std::int64_t L, std::int64_t hd, std::int64_t prefix, std::int64_t table_stride) {
  const std::int64_t nv = B * H * L * hd / N;
  rope2d_kernel<N, kVecIO, T, I><<<blocks_for(nv), kBlock, 0, stream_of(be)>>>(
      y, x, cos, sin, I(nv), Divider<I>(hd / N), Divider<I>(L), Divider<I>(H * L), I(prefix), table_stride, hd);
}
}  // namespace ew

// y, x: (B, H, L, hd) with L tokens, hd even; cos, sin: (L - prefix, hd), or (B, L - prefix, hd) when
// per_sample, float on the device. Tokens t < prefix are copied.
template <class Acc, class T>
void rope2d_forward(Backend be, T* y, const T* x, const Acc* cos, const Acc* sin, std::int64_t B, std::int64_t H,
                    std::int64_t L, std::int64_t hd, std::int64_t prefix, bool per_sample) {
  if constexpr (!ew::kSupported<Acc, T>) {
    ew::unsupported("rope2d_forward");
  } else {
    EVACLIP_CHECK(hd % 2 == 0 && 0 <= prefix && prefix <= L, "rope2d_forward: head dim ", hd,
                  " (must be even), prefix ", prefix, " for ", L, " tokens");
    if (B <= 0 || H <= 0 || L <= 0 || hd <= 0) return;
    const std::int64_t table_stride = per_sample ? (L - prefix) * hd : 0;
    constexpr int V = kVec16<T>;
    const bool vec = hd % V == 0 && vec_aligned<T, V>(y) && vec_aligned<T, V>(x) && vec_aligned<float, 4>(cos) &&
                     vec_aligned<float, 4>(sin);
    const std::int64_t n = B * H * L * hd;
    if (vec) {
      if (ew::fits_u32(n / V))
        ew::launch_rope2d_as<V, true, T, std::uint32_t>(be, y, x, cos, sin, B, H, L, hd, prefix, table_stride);
      else ew::launch_rope2d_as<V, true, T, std::int64_t>(be, y, x, cos, sin, B, H, L, hd, prefix, table_stride);
    } else {
      if (ew::fits_u32(n / 2))
        ew::launch_rope2d_as<2, false, T, std::uint32_t>(be, y, x, cos, sin, B, H, L, hd, prefix, table_stride);
      else ew::launch_rope2d_as<2, false, T, std::int64_t>(be, y, x, cos, sin, B, H, L, hd, prefix, table_stride);
    }
    check_launch(be, "rope2d_forward");
  }
}

template <class Acc, class T>
void rope2d_backward(Backend, T*, const T*, const Acc*, const Acc*, std::int64_t, std::int64_t, std::int64_t,
                     std::int64_t, std::int64_t, bool) {
  backward_not_built("rope2d_backward");
}

}  // namespace evaclip::cuda
