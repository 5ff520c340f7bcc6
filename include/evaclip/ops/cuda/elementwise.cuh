// elementwise.cuh (cuda) — defines add / mul / scale forward (backward: not built yet) and the element-wise
// launch machinery the other streaming kernels share (index dividers, vector map kernels).
//
// Design: one thread per 16-byte vector (8 bf16/f16 or 4 float), 256 threads per block, one wave of
// independent blocks (no grid-stride loop): each thread issues its loads before any store, full occupancy
// (8 blocks of 256 per SM) keeps ~32 KB per operand in flight per SM, enough to cover HBM latency. The
// vector path is taken when every pointer is 16-byte aligned and the broadcast period C is a multiple of
// the vector width (so a vector never straddles a row of b); otherwise the same kernel runs one element
// per thread. Index arithmetic is 32-bit with multiply-shift division when the index space is under
// 2^31 (every model tensor), 64-bit otherwise. Arithmetic is one float operation per element, rounded
// once to T, so results are bit-identical to the CPU reference.
#pragma once

#include <cstdint>
#include <type_traits>

#include "evaclip/ops/cuda/common.cuh"

namespace evaclip::cuda {

namespace ew {

constexpr int kBlock = 256;

// Division by a run-time constant. The 32-bit form is the multiply-high-and-shift of Granlund and
// Montgomery (as PyTorch's IntDivider): exact for 1 <= d < 2^31 and numerators n < 2^31.
template <class I>
struct Divider;

template <>
struct Divider<std::uint32_t> {
  std::uint32_t d = 1, magic = 1, shift = 0;
  Divider() = default;
  explicit Divider(std::int64_t divisor) : d(std::uint32_t(divisor)) {
    EVACLIP_CHECK(divisor >= 1 && divisor < (std::int64_t(1) << 31), "Divider: divisor ", divisor, " out of range");
    while (shift < 32 && (std::uint64_t(1) << shift) < d) ++shift;
    const std::uint64_t m = ((std::uint64_t(1) << 32) * ((std::uint64_t(1) << shift) - d)) / d + 1;
    magic = std::uint32_t(m);
  }
  // Host-callable too, so the index arithmetic of a kernel can be checked without a device.
  __host__ __device__ __forceinline__ std::uint32_t div(std::uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const std::uint32_t hi = __umulhi(n, magic);
#else
    const auto hi = std::uint32_t((std::uint64_t(n) * magic) >> 32);
#endif
    return (hi + n) >> shift;
  }
};

template <>
struct Divider<std::int64_t> {
  std::int64_t d = 1;
  Divider() = default;
  explicit Divider(std::int64_t divisor) : d(divisor) {
    EVACLIP_CHECK(divisor >= 1, "Divider: divisor ", divisor, " out of range");
  }
  __host__ __device__ __forceinline__ std::int64_t div(std::int64_t n) const { return n / d; }
};

// The 32-bit index path is valid when every index (and so every divisor) is below 2^31.
inline bool fits_u32(std::int64_t n) { return n < (std::int64_t(1) << 31); }

inline unsigned blocks_for(std::int64_t n) { return unsigned(ceil_div(n, kBlock)); }

template <class I>
__device__ __forceinline__ I global_index() {
  return I(blockIdx.x) * I(kBlock) + I(threadIdx.x);
}

// CUDA kernels store float/bf16/f16 and compute in float. Other policies (fp64) compile, so generic code
// may name them, and fail when run (`if constexpr (!kSupported<Acc, T>) unsupported(op); else ...`).
template <class Acc, class T>
inline constexpr bool kSupported = std::is_same_v<Acc, float> &&
                                   (std::is_same_v<T, float> || std::is_same_v<T, bf16> || std::is_same_v<T, f16>);

[[noreturn]] inline void unsupported(const char* op) {
  fail(op, ": the CUDA kernels compute in float on f32/bf16/f16 storage; run fp64 on the CPU");
}

template <class T, int N>
__device__ __forceinline__ Vec<T, N> load(const T* p, std::int64_t vec_index) {
  return reinterpret_cast<const Vec<T, N>*>(p)[vec_index];
}
template <class T, int N>
__device__ __forceinline__ void store(T* p, std::int64_t vec_index, const Vec<T, N>& v) {
  reinterpret_cast<Vec<T, N>*>(p)[vec_index] = v;
}

// ---- y = op(x) ----
template <int N, class T, class I, class Op>
__global__ void __launch_bounds__(kBlock) map_kernel(T* y, const T* x, I nv, Op op) {
  const I v = global_index<I>();
  if (v >= nv) return;
  const Vec<T, N> xv = load<T, N>(x, v);
  Vec<T, N> yv;
#pragma unroll
  for (int k = 0; k < N; ++k) yv.v[k] = from_f32<T>(op(to_f32(xv.v[k])));
  store<T, N>(y, v, yv);
}

template <int N, class T, class I, class Op>
void launch_map_as(Backend be, T* y, const T* x, std::int64_t n, Op op) {
  const std::int64_t nv = n / N;
  map_kernel<N, T, I><<<blocks_for(nv), kBlock, 0, stream_of(be)>>>(y, x, I(nv), op);
}

// y, x: (n,) — the vector path when n is a multiple of the vector width and both are aligned.
template <class T, class Op>
void launch_map(Backend be, const char* name, T* y, const T* x, std::int64_t n, Op op) {
  if (n <= 0) return;
  constexpr int V = kVec16<T>;
  const bool vec = n % V == 0 && vec_aligned<T, V>(y) && vec_aligned<T, V>(x);
  if (vec) {
    if (fits_u32(n / V)) launch_map_as<V, T, std::uint32_t>(be, y, x, n, op);
    else launch_map_as<V, T, std::int64_t>(be, y, x, n, op);
  } else {
    if (fits_u32(n)) launch_map_as<1, T, std::uint32_t>(be, y, x, n, op);
    else launch_map_as<1, T, std::int64_t>(be, y, x, n, op);
  }
  check_launch(be, name);
}

// ---- y = op(a, b) with b repeating over the rows of a ----
// a, y: (R, C) seen as nv vectors; b: (C,) as cv = C / N vectors; vector v reads b's vector v mod cv.
template <int N, class T, class I, class Op>
__global__ void __launch_bounds__(kBlock)
    row_broadcast_kernel(T* y, const T* a, const T* b, I nv, Divider<I> cv, Op op) {
  const I v = global_index<I>();
  if (v >= nv) return;
  const I j = v - cv.div(v) * cv.d;
  const Vec<T, N> av = load<T, N>(a, v), bv = load<T, N>(b, j);
  Vec<T, N> yv;
#pragma unroll
  for (int k = 0; k < N; ++k) yv.v[k] = from_f32<T>(op(to_f32(av.v[k]), to_f32(bv.v[k])));
  store<T, N>(y, v, yv);
}

template <int N, class T, class I, class Op>
void launch_row_broadcast_as(Backend be, T* y, const T* a, const T* b, std::int64_t R, std::int64_t C, Op op) {
  const std::int64_t nv = R * C / N;
  row_broadcast_kernel<N, T, I><<<blocks_for(nv), kBlock, 0, stream_of(be)>>>(y, a, b, I(nv), Divider<I>(C / N), op);
}

template <class T, class Op>
void launch_row_broadcast(Backend be, const char* name, T* y, const T* a, const T* b, std::int64_t R, std::int64_t C,
                          Op op) {
  const std::int64_t n = R * C;
  if (n <= 0) return;
  constexpr int V = kVec16<T>;
  const bool vec = C % V == 0 && vec_aligned<T, V>(y) && vec_aligned<T, V>(a) && vec_aligned<T, V>(b);
  if (vec) {
    if (fits_u32(n / V)) launch_row_broadcast_as<V, T, std::uint32_t>(be, y, a, b, R, C, op);
    else launch_row_broadcast_as<V, T, std::int64_t>(be, y, a, b, R, C, op);
  } else {
    if (fits_u32(n)) launch_row_broadcast_as<1, T, std::uint32_t>(be, y, a, b, R, C, op);
    else launch_row_broadcast_as<1, T, std::int64_t>(be, y, a, b, R, C, op);
  }
  check_launch(be, name);
}

struct AddOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct MulOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a * b; }
};
struct ScaleOp {
  float s;
  __device__ __forceinline__ float operator()(float x) const { return s * x; }
};

}  // namespace ew

// y = a + b;  y, a: (R, C); b: (C,).
template <class Acc, class T>
void add_forward(Backend be, T* y, const T* a, const T* b, std::int64_t R, std::int64_t C) {
  if constexpr (!ew::kSupported<Acc, T>) ew::unsupported("add_forward");
  else ew::launch_row_broadcast(be, "add_forward", y, a, b, R, C, ew::AddOp{});
}

template <class Acc, class T>
void add_backward(Backend, T*, T*, const T*, std::int64_t, std::int64_t) {
  backward_not_built("add_backward");
}

// y = x * g;  y, x: (R, C); g: (C,).
template <class Acc, class T>
void mul_forward(Backend be, T* y, const T* x, const T* g, std::int64_t R, std::int64_t C) {
  if constexpr (!ew::kSupported<Acc, T>) ew::unsupported("mul_forward");
  else ew::launch_row_broadcast(be, "mul_forward", y, x, g, R, C, ew::MulOp{});
}

template <class Acc, class T>
void mul_backward(Backend, T*, T*, const T*, const T*, const T*, std::int64_t, std::int64_t) {
  backward_not_built("mul_backward");
}

// y = s * x over n elements (s rounded to float first, as the CPU reference). Also the backward of scale.
template <class Acc, class T>
void scale_forward(Backend be, T* y, const T* x, double s, std::int64_t n) {
  if constexpr (!ew::kSupported<Acc, T>) ew::unsupported("scale_forward");
  else ew::launch_map(be, "scale_forward", y, x, n, ew::ScaleOp{float(s)});
}

}  // namespace evaclip::cuda
