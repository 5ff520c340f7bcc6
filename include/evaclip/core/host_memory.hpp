// host_memory.hpp — defines host_alloc / host_free: 64-byte-aligned host memory for tensor storage, with
// blocks of 128 KiB and more kept by a caching allocator for reuse.
//
// Why: glibc serves large requests with mmap and unmaps them on free, so each forward pass of a model
// would fault its activations in again page by page (6% of an EVA02-B/16 image forward at batch 8 went to
// the kernel's page-fault and clear_page paths, 2026-12-02). Small requests go straight to the C allocator,
// which already reuses them. Under AddressSanitizer nothing is cached, so use-after-free is still caught.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>

#include "evaclip/core/caching_allocator.hpp"
#include "evaclip/core/error.hpp"

namespace evaclip {

// 64-byte alignment for vector loads; aligned_alloc needs a size that is a multiple of it.
struct HostRawAllocator {
  static void* alloc(std::size_t n) { return std::aligned_alloc(64, std::max<std::size_t>(64, (n + 63) / 64 * 64)); }
  static void free(void* p) { std::free(p); }
};

// glibc's default mmap threshold: the requests it would otherwise map and unmap every time.
inline constexpr std::size_t kHostCacheMinBytes = std::size_t(128) << 10;

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kHostCache = false;
#else
inline constexpr bool kHostCache = true;
#endif

inline CachingAllocator<HostRawAllocator>& host_allocator() {
  static auto* a = new CachingAllocator<HostRawAllocator>();  // leaked on purpose: outlives static tensors
  return *a;
}

inline void* host_alloc(std::size_t bytes) {
  if (kHostCache && bytes >= kHostCacheMinBytes) return host_allocator().allocate(bytes);
  void* p = HostRawAllocator::alloc(bytes);
  EVACLIP_CHECK(p, "host_alloc: out of host memory allocating ", bytes, " bytes");
  return p;
}

// bytes: the size given to host_alloc.
inline void host_free(void* p, std::size_t bytes) {
  if (kHostCache && bytes >= kHostCacheMinBytes) host_allocator().deallocate(p);
  else HostRawAllocator::free(p);
}

}  // namespace evaclip
