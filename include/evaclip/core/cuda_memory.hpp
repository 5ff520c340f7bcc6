// cuda_memory.hpp — defines device allocation (through the caching allocator) and host<->device copies.
//
// Host code only (cuda_runtime_api.h), so it builds with g++; present when evaclip is built with CUDA
// (EVACLIP_WITH_CUDA). Without CUDA the same functions exist and throw a clear error.
#pragma once

#include <cstddef>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/caching_allocator.hpp"
#include "evaclip/core/error.hpp"

#if defined(EVACLIP_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace evaclip {

#if defined(EVACLIP_WITH_CUDA)

// Every CUDA runtime call goes through this check so a failure names the operation.
#define EVACLIP_CUDA_CHECK(call, op)                                                          \
  do {                                                                                       \
    cudaError_t evaclip_err_ = (call);                                                       \
    EVACLIP_CHECK(evaclip_err_ == cudaSuccess, op, ": ", cudaGetErrorString(evaclip_err_));  \
  } while (0)

struct CudaRawAllocator {
  static void* alloc(std::size_t n) {
    void* p = nullptr;
    if (cudaMalloc(&p, n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the sticky OOM so the retry can succeed
      return nullptr;
    }
    return p;
  }
  static void free(void* p) { cudaFree(p); }
};

inline CachingAllocator<CudaRawAllocator>& cuda_allocator() {
  static auto* a = new CachingAllocator<CudaRawAllocator>();  // leaked on purpose: outlives static tensors
  return *a;
}

inline bool cuda_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

inline void* device_alloc(std::size_t bytes) { return cuda_allocator().allocate(bytes); }
inline void device_free(void* p) { cuda_allocator().deallocate(p); }

// Copies bytes between any two of host and device memory (synchronous).
inline void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, std::size_t n) {
  const cudaMemcpyKind kind = dst_dev == Device::cpu ? (src_dev == Device::cpu ? cudaMemcpyHostToHost
                                                                               : cudaMemcpyDeviceToHost)
                                                     : (src_dev == Device::cpu ? cudaMemcpyHostToDevice
                                                                               : cudaMemcpyDeviceToDevice);
  EVACLIP_CUDA_CHECK(cudaMemcpy(dst, src, n, kind), "copy_bytes");
}

#else

inline bool cuda_available() { return false; }
[[noreturn]] inline void* device_alloc(std::size_t) {
  fail("device_alloc: evaclip was built without CUDA (configure with EVACLIP_CUDA=ON)");
}
inline void device_free(void*) {}
inline void copy_bytes(void*, Device, const void*, Device, std::size_t) {
  fail("copy_bytes: evaclip was built without CUDA (configure with EVACLIP_CUDA=ON)");
}

#endif

}  // namespace evaclip
