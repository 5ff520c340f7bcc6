// Tests CachingAllocator with counting host allocators (reuse, size classes, best fit, stats, OOM retry) and
// the host tensor storage that uses it.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <vector>

#include "common/test_util.hpp"

using namespace evaclip;

namespace {

// malloc with counters; `limit` (bytes outstanding) simulates a device that runs out of memory.
struct CountingRaw {
  static inline std::size_t allocs = 0, frees = 0, failures = 0, outstanding = 0;
  static inline std::size_t limit = std::size_t(-1);
  static inline std::vector<std::pair<void*, std::size_t>> live;

  static void reset(std::size_t lim = std::size_t(-1)) {
    allocs = frees = failures = outstanding = 0;
    limit = lim;
    live.clear();
  }
  static void* alloc(std::size_t n) {
    if (outstanding + n > limit) {
      ++failures;
      return nullptr;
    }
    void* p = std::malloc(n);
    ++allocs;
    outstanding += n;
    live.emplace_back(p, n);
    return p;
  }
  static void free(void* p) {
    for (auto it = live.begin(); it != live.end(); ++it)
      if (it->first == p) {
        outstanding -= it->second;
        live.erase(it);
        ++frees;
        std::free(p);
        return;
      }
    ADD_FAILURE() << "raw free of a pointer the raw allocator did not hand out";
  }
};

using Alloc = CachingAllocator<CountingRaw>;
constexpr std::size_t MiB = std::size_t(1) << 20;

class CachingAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override { CountingRaw::reset(); }
  void TearDown() override { EXPECT_EQ(CountingRaw::live.size(), 0u) << "raw blocks leaked"; }
};

}  // namespace

TEST_F(CachingAllocatorTest, RoundsToSizeClasses) {
  EXPECT_EQ(Alloc::round_size(0), 512u);
  EXPECT_EQ(Alloc::round_size(1), 512u);
  EXPECT_EQ(Alloc::round_size(512), 512u);
  EXPECT_EQ(Alloc::round_size(513), 1024u);
  EXPECT_EQ(Alloc::round_size(1000), 1024u);
  EXPECT_EQ(Alloc::round_size(MiB - 1), MiB);
  EXPECT_EQ(Alloc::round_size(MiB), 2 * MiB);
  EXPECT_EQ(Alloc::round_size(2 * MiB), 2 * MiB);
  EXPECT_EQ(Alloc::round_size(2 * MiB + 1), 4 * MiB);
  EXPECT_EQ(Alloc::round_size(5 * MiB), 6 * MiB);
  Alloc a;
  void* p = a.allocate(100);
  EXPECT_EQ(a.stats().in_use, 512u);
  EXPECT_EQ(CountingRaw::outstanding, 512u);  // the raw request is the rounded size
  a.deallocate(p);
}

TEST_F(CachingAllocatorTest, ReusesFreedBlocksWithoutRawAllocation) {
  {
    Alloc a;
    void* p = a.allocate(1000);
    EXPECT_EQ(CountingRaw::allocs, 1u);
    a.deallocate(p);
    EXPECT_EQ(CountingRaw::frees, 0u);  // cached, not returned
    void* q = a.allocate(700);           // same 1024 B class
    EXPECT_EQ(q, p);
    EXPECT_EQ(CountingRaw::allocs, 1u);
    const auto s = a.stats();
    EXPECT_EQ(s.hits, 1u);
    EXPECT_EQ(s.raw_allocs, 1u);
    EXPECT_EQ(s.in_use, 1024u);
    EXPECT_EQ(s.cached, 0u);
    // Two live blocks are distinct.
    void* r = a.allocate(1000);
    EXPECT_NE(r, q);
    EXPECT_EQ(CountingRaw::allocs, 2u);
    a.deallocate(q);
    a.deallocate(r);
    EXPECT_EQ(a.stats().cached, 2048u);
    EXPECT_EQ(a.stats().in_use, 0u);
  }
  EXPECT_EQ(CountingRaw::frees, 2u);  // the destructor returns cached blocks
}

TEST_F(CachingAllocatorTest, BestFitNeverMoreThanTwice) {
  Alloc a;
  void* b4k = a.allocate(4096);
  void* b1536 = a.allocate(1536);
  void* b2k = a.allocate(2048);
  a.deallocate(b4k);
  a.deallocate(b1536);
  a.deallocate(b2k);
  EXPECT_EQ(a.allocate(1100), b1536);  // rounds to 1536: exact class, not the larger 2048
  EXPECT_EQ(a.allocate(1100), b2k);    // next smallest that fits (2048 <= 2 * 1536)
  void* fresh = a.allocate(1024);      // only 4096 is left: more than twice 1024, so a new raw block
  EXPECT_NE(fresh, b4k);
  EXPECT_EQ(CountingRaw::allocs, 4u);
  EXPECT_EQ(a.allocate(2048), b4k);    // 4096 <= 2 * 2048 is accepted
  EXPECT_EQ(a.stats().hits, 3u);
  EXPECT_EQ(a.stats().in_use, 1536u + 2048u + 1024u + 4096u);  // in_use counts the block actually handed out
  a.deallocate(b1536);
  a.deallocate(b2k);
  a.deallocate(fresh);
  a.deallocate(b4k);
  // A block smaller than the request is never used.
  void* big = a.allocate(8192);
  EXPECT_EQ(CountingRaw::allocs, 5u);
  a.deallocate(big);
}

TEST_F(CachingAllocatorTest, StatsAndEmptyCache) {
  Alloc a;
  std::vector<void*> ps;
  for (int i = 0; i < 4; ++i) ps.push_back(a.allocate(3 * MiB));  // 4 MiB class each
  std::set<void*> distinct(ps.begin(), ps.end());
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(a.stats().in_use, 16 * MiB);
  for (void* p : ps) a.deallocate(p);
  auto s = a.stats();
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.cached, 16 * MiB);
  EXPECT_EQ(CountingRaw::outstanding, 16 * MiB);
  a.empty_cache();
  s = a.stats();
  EXPECT_EQ(s.cached, 0u);
  EXPECT_EQ(CountingRaw::frees, 4u);
  EXPECT_EQ(CountingRaw::outstanding, 0u);
  void* p = a.allocate(3 * MiB);  // nothing cached any more: a raw allocation
  EXPECT_EQ(CountingRaw::allocs, 5u);
  EXPECT_EQ(a.stats().hits, 0u);
  a.empty_cache();                // live blocks are not touched
  EXPECT_EQ(CountingRaw::frees, 4u);
  a.deallocate(p);
  a.deallocate(nullptr);          // no-op
  EXPECT_EQ(a.stats().cached, 4 * MiB);
}

TEST_F(CachingAllocatorTest, OutOfMemoryReleasesCacheAndRetries) {
  CountingRaw::reset(8 * MiB);  // the "device" holds 8 MiB
  Alloc a;
  void* p = a.allocate(5 * MiB);  // 6 MiB class
  a.deallocate(p);                // cached: the device is still 6 MiB full
  void* q = a.allocate(MiB + 1);  // 2 MiB class: 6 MiB is more than twice that, so a new block (6 + 2 fits)
  EXPECT_EQ(CountingRaw::failures, 0u);
  a.deallocate(q);  // 8 MiB cached: the device is full
  // 512 B: both cached blocks are more than twice its size, so the raw allocator is asked and fails; the
  // allocator then returns the cache to the device and the retry succeeds.
  void* s = a.allocate(512);
  EXPECT_NE(s, nullptr);
  EXPECT_EQ(CountingRaw::failures, 1u);
  EXPECT_EQ(CountingRaw::frees, 2u);
  EXPECT_EQ(a.stats().cached, 0u);
  EXPECT_EQ(a.stats().in_use, 512u);
  a.deallocate(s);
}

TEST_F(CachingAllocatorTest, OutOfMemoryWithNothingCachedThrows) {
  CountingRaw::reset(4 * MiB);
  Alloc a;
  void* p = a.allocate(3 * MiB);  // 4 MiB in use
  EXPECT_THROW_MSG(a.allocate(1000), "caching allocator: out of memory allocating 1000 bytes (4194304 bytes in use)");
  EXPECT_EQ(CountingRaw::failures, 2u);  // first try and the retry after releasing the (empty) cache
  a.deallocate(p);
  EXPECT_EQ(a.stats().in_use, 0u);
}

TEST_F(CachingAllocatorTest, FreeingUnknownPointerThrows) {
  Alloc a;
  int local = 0;
  EXPECT_THROW_MSG(a.deallocate(&local), "caching allocator: free of a pointer it did not allocate");
  void* p = a.allocate(64);
  a.deallocate(p);
  EXPECT_THROW_MSG(a.deallocate(p), "did not allocate");  // double free
  EXPECT_EQ(a.stats().cached, 512u);
}

// Host tensors of 128 KiB and more come from host_allocator(), so a freed activation's block (and its
// resident pages) serves the next one; smaller ones and sanitizer builds go to the C allocator.
TEST(HostMemory, LargeTensorStorageIsReusedSmallIsNot) {
  auto& cache = host_allocator();
  cache.empty_cache();  // nothing cached from earlier tests: the first block below is a fresh one
  const auto before = cache.stats();
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({256, 256}, DType::f32);  // 256 KiB
    first = t.raw();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
  }
  {
    Tensor small = Tensor::empty({16}, DType::f32);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(small.raw()) % 64, 0u);
  }
  Tensor again = Tensor::empty({255, 256}, DType::f32);  // same size class
  const auto after = cache.stats();
  if (kHostCache) {
    EXPECT_EQ(again.raw(), first);
    EXPECT_EQ(after.hits, before.hits + 1);
    EXPECT_EQ(after.raw_allocs, before.raw_allocs + 1);
  } else {
    EXPECT_EQ(after.hits, before.hits);
    EXPECT_EQ(after.raw_allocs, before.raw_allocs);
  }
}
