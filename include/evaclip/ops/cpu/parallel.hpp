// parallel.hpp — defines the CPU backend's OpenMP helpers: parallel_for, parallel_ranges and a deterministic
// column_reduce.
//
// Why so careful: every OpenMP region ends at a barrier, and on a shared machine a barrier waits for a
// thread that another process has descheduled. A forward that opened a region per small op (thousands)
// collapsed under load, so regions open only for enough work (parallel_grain elements, ATen's grain too),
// never inside another region (a nested call runs serially on the calling thread), and hand each thread
// one contiguous range rather than single items.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace evaclip::cpu {

// Elements of work below which one thread finishes before a team could start.
inline constexpr std::int64_t parallel_grain = std::int64_t(1) << 15;

// Threads worth using for `work` elements of work split into at most `items` pieces: 1 inside a region.
inline int parallel_threads(std::int64_t work, std::int64_t items) {
  if (work < 2 * parallel_grain || items < 2 || omp_in_parallel()) return 1;
  const std::int64_t t = std::min<std::int64_t>({omp_get_max_threads(), items, work / parallel_grain});
  return int(std::max<std::int64_t>(t, 1));
}

// Calls f(begin, end) on contiguous, disjoint ranges covering [0, n) exactly once, one range per thread;
// each item costs about work_per_item elements of work. Serial (one call f(0, n)) when that is little.
template <class F>
void parallel_ranges(std::int64_t n, std::int64_t work_per_item, F&& f) {
  if (n <= 0) return;
  const int nt = parallel_threads(n * std::max<std::int64_t>(work_per_item, 1), n);
  if (nt == 1) {
    f(std::int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const std::int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const std::int64_t begin = n * t / T, end = n * (t + 1) / T;
    if (begin < end) f(begin, end);
  }
}

// Calls f(i) for i in [0, n), split across OpenMP threads when n >= min_parallel items (callers pass
// about parallel_grain for element-sized items) and not already inside a region.
template <class F>
void parallel_for(std::int64_t n, F&& f, std::int64_t min_parallel = 2) {
  if (n < std::max<std::int64_t>(min_parallel, 2) || omp_get_max_threads() == 1 || omp_in_parallel()) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

// out[0..width) = sum over rows r of row_fn(r, acc) contributions, reproducibly: rows are cut into
// fixed blocks of `block` rows (independent of the thread count), each block sums in its own buffer, and
// the buffers are added in block order. Same bits for any number of threads.
template <class C, class F>
void column_reduce(std::int64_t rows, std::int64_t width, C* out, F&& row_fn, std::int64_t block = 64) {
  const std::int64_t nblocks = std::max<std::int64_t>(1, (rows + block - 1) / block);
  std::vector<C> partial(std::size_t(nblocks * width), C(0));
  parallel_ranges(nblocks, block * width, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      C* acc = partial.data() + b * width;
      for (std::int64_t r = b * block; r < std::min(rows, (b + 1) * block); ++r) row_fn(r, acc);
    }
  });
  std::fill(out, out + width, C(0));
  for (std::int64_t b = 0; b < nblocks; ++b)
    for (std::int64_t j = 0; j < width; ++j) out[j] += partial[std::size_t(b * width + j)];
}

}  // namespace evaclip::cpu
