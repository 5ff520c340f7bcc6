// parallel.hpp — defines the CPU backend's OpenMP helpers: parallel_for and a deterministic column_reduce.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace evaclip::cpu {

// Calls f(i) for i in [0, n), split across OpenMP threads when the work is worth it.
template <class F>
void parallel_for(std::int64_t n, F&& f, std::int64_t min_parallel = 2) {
#pragma omp parallel for schedule(static) if (n >= min_parallel)
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

// out[0..width) = sum over rows r of row_fn(r, acc) contributions, reproducibly: rows are cut into
// fixed blocks of `block` rows (independent of the thread count), each block sums in its own buffer, and
// the buffers are added in block order. Same bits for any number of threads.
template <class C, class F>
void column_reduce(std::int64_t rows, std::int64_t width, C* out, F&& row_fn, std::int64_t block = 64) {
  const std::int64_t nblocks = std::max<std::int64_t>(1, (rows + block - 1) / block);
  std::vector<C> partial(std::size_t(nblocks * width), C(0));
  parallel_for(nblocks, [&](std::int64_t b) {
    C* acc = partial.data() + b * width;
    for (std::int64_t r = b * block; r < std::min(rows, (b + 1) * block); ++r) row_fn(r, acc);
  });
  std::fill(out, out + width, C(0));
  for (std::int64_t b = 0; b < nblocks; ++b)
    for (std::int64_t j = 0; j < width; ++j) out[j] += partial[std::size_t(b * width + j)];
}

}  // namespace evaclip::cpu
