// common.cuh — defines what every CUDA kernel shares: the stream of a backend tag, launch checks that name
// the op, float <-> storage conversions, aligned vector types and warp/block reductions.
//
// Kernels store activations as evaclip's own bf16/f16/float and compute in float. The conversions below
// use the hardware intrinsics, which round to nearest-even exactly as the host types do (tested in
// tests/cuda/test_cuda_core.cu), so a value rounded on the device equals the one rounded on the host.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/error.hpp"

namespace evaclip::cuda {

inline cudaStream_t stream_of(Backend be) { return static_cast<cudaStream_t>(be.stream); }

// After every launch: a bad configuration fails here, naming the op. With EVACLIP_CUDA_SYNC=1 in the
// environment the stream is also synchronised, so an error inside the kernel is reported by the op that
// caused it instead of by a later, unrelated call (the debugging mode of gpu_check.sh).
inline void check_launch(Backend be, const char* op) {
  EVACLIP_CUDA_CHECK(cudaGetLastError(), op);
  static const bool sync = [] {
    const char* s = std::getenv("EVACLIP_CUDA_SYNC");
    return s && s[0] == '1';
  }();
  if (sync) EVACLIP_CUDA_CHECK(cudaStreamSynchronize(stream_of(be)), op);
}

// The CUDA backward kernels are not written yet; until they are, a backward on the CUDA backend is this error,
// raised when the tape runs it (a forward under NoGrad never does).
[[noreturn]] inline void backward_not_built(const char* op) {
  fail(op, ": the CUDA backward is not built yet; train on the CPU (--device cpu)");
}

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// ---- storage <-> float ----
__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(double x) { return float(x); }
__device__ __forceinline__ float to_f32(bf16 x) { return __bfloat162float(__ushort_as_bfloat16(x.bits)); }
__device__ __forceinline__ float to_f32(f16 x) { return __half2float(__ushort_as_half(x.bits)); }

template <class T>
__device__ __forceinline__ T from_f32(float x) {
  if constexpr (std::is_same_v<T, float>) return x;
  else if constexpr (std::is_same_v<T, double>) return double(x);
  else if constexpr (std::is_same_v<T, bf16>) return bf16::from_bits(__bfloat16_as_ushort(__float2bfloat16_rn(x)));
  else if constexpr (std::is_same_v<T, f16>) return f16::from_bits(__half_as_ushort(__float2half_rn(x)));
  else static_assert(always_false<T>, "from_f32: unsupported storage type");
}

// The CUDA library type of a storage type (cuBLASLt and the mma intrinsics name these).
template <class T>
struct native;
template <> struct native<float> { using type = float; };
template <> struct native<bf16> { using type = __nv_bfloat16; };
template <> struct native<f16> { using type = __half; };

// N elements loaded or stored as one aligned transaction (16 bytes for N = 16 / sizeof(T)).
template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};
// Elements per 16-byte access.
template <class T>
inline constexpr int kVec16 = int(16 / sizeof(T));

// True when p is aligned for Vec<T, N> accesses (the vector path is taken only then).
template <class T, int N>
inline bool vec_aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % (sizeof(T) * N) == 0;
}

// ---- reductions ----
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets the total.
// `scratch` holds 32 floats of shared memory; the function may be called repeatedly with the same scratch.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // the previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return warp_sum(v);
}

}  // namespace evaclip::cuda
