// caching_allocator.hpp — defines CachingAllocator<Raw>: memory reuse by size class (device memory, and
// large host blocks: host_memory.hpp).
//
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, so a training step that
// allocates its activations afresh would spend more time in the driver than in kernels. Freed blocks go
// to a free list keyed by their rounded size and are handed out again. The raw allocator is a template
// parameter so that the policy is unit-tested on the CPU (tests use a counting malloc) and used with
// cudaMalloc in cuda_memory.hpp and aligned_alloc in host_memory.hpp.
//
// Blocks are reused in host order: correct for work on one stream (the backend's), which is the only
// mode evaclip uses. A block freed while another stream still reads it would need stream events.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

#include "evaclip/core/error.hpp"

namespace evaclip {

// Raw must provide `static void* alloc(std::size_t)` (nullptr when out of memory) and `static void free(void*)`.
template <class Raw>
class CachingAllocator {
 public:
  struct Stats {
    std::size_t in_use = 0;   // bytes handed out and not yet returned
    std::size_t cached = 0;   // bytes held in free lists
    std::size_t raw_allocs = 0;
    std::size_t hits = 0;
  };

  // Small requests round to 512 B; requests of 1 MiB and more round to 2 MiB so that similar large
  // activations share a size class.
  static std::size_t round_size(std::size_t n) {
    constexpr std::size_t small = 512, large = std::size_t(2) << 20;
    if (n < (std::size_t(1) << 20)) return n == 0 ? small : (n + small - 1) / small * small;
    return (n + large - 1) / large * large;
  }

  void* allocate(std::size_t bytes) {
    const std::size_t size = round_size(bytes);
    std::lock_guard lock(mutex_);
    // Best fit among cached blocks, but never more than twice the request (avoids pinning huge blocks).
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= 2 * size) {
      void* p = it->second;
      const std::size_t got = it->first;
      free_.erase(it);
      stats_.cached -= got;
      stats_.in_use += got;
      ++stats_.hits;
      live_[p] = got;
      return p;
    }
    void* p = Raw::alloc(size);
    if (!p) {  // out of memory: give every cached block back to the driver and try once more
      release_cached_locked();
      p = Raw::alloc(size);
    }
    EVACLIP_CHECK(p, "caching allocator: out of memory allocating ", bytes, " bytes (", stats_.in_use,
                  " bytes in use)");
    ++stats_.raw_allocs;
    stats_.in_use += size;
    live_[p] = size;
    return p;
  }

  void deallocate(void* p) {
    if (!p) return;
    std::lock_guard lock(mutex_);
    auto it = live_.find(p);
    EVACLIP_CHECK(it != live_.end(), "caching allocator: free of a pointer it did not allocate");
    free_.emplace(it->second, p);
    stats_.in_use -= it->second;
    stats_.cached += it->second;
    live_.erase(it);
  }

  void empty_cache() {
    std::lock_guard lock(mutex_);
    release_cached_locked();
  }

  Stats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  ~CachingAllocator() { release_cached_locked(); }

 private:
  void release_cached_locked() {
    for (auto& [size, p] : free_) Raw::free(p);
    free_.clear();
    stats_.cached = 0;
  }

  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
  std::unordered_map<void*, std::size_t> live_;
  Stats stats_;
};

}  // namespace evaclip
