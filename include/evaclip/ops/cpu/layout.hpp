// layout.hpp (cpu) — defines strided_copy and batch_sum: the data movement behind reshape/permute/concat/
// slice/expand_batch.
//
// strided_copy walks one index space (shape) and reads/writes through two stride sets, so a permutation,
// a slice, a concat piece or a broadcast (stride 0) is one call with the right strides and base pointers.
#pragma once

#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/shape.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// dst[i · dst_strides] = src[i · src_strides] for every index i of `shape` (any rank, element strides).
template <class T>
void strided_copy(Backend, T* dst, const Strides& dst_strides, const T* src, const Strides& src_strides,
                  const Shape& shape) {
  const std::size_t rank = shape.size();
  if (numel(shape) == 0) return;
  if (rank == 0) {
    *dst = *src;
    return;
  }
  // The last dimension is the inner loop; every "row" (index over the others) is an independent task.
  const std::int64_t inner = shape.back(), rows = numel(shape) / inner;
  const std::int64_t ds = dst_strides.back(), ss = src_strides.back();
  parallel_ranges(rows, inner, [&](std::int64_t r_begin, std::int64_t r_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      std::int64_t od = 0, os = 0, rem = r;
      for (std::size_t d = rank - 1; d-- > 0;) {  // unravel r over dims [0, rank-1)
        const std::int64_t i = rem % shape[d];
        rem /= shape[d];
        od += i * dst_strides[d];
        os += i * src_strides[d];
      }
      for (std::int64_t j = 0; j < inner; ++j) dst[od + j * ds] = src[os + j * ss];
    }
  });
}

// dx (inner,) = sum over b of dy (B, inner): the gradient of a batch broadcast, deterministic via column_reduce.
template <class Acc, class T>
void batch_sum(Backend, T* dx, const T* dy, std::int64_t B, std::int64_t inner) {
  std::vector<Acc> acc(static_cast<std::size_t>(inner));
  column_reduce<Acc>(B, inner, acc.data(), [&](std::int64_t b, Acc* a) {
    for (std::int64_t j = 0; j < inner; ++j) a[j] += convert<Acc>(dy[b * inner + j]);
  });
  for (std::int64_t j = 0; j < inner; ++j) dx[j] = convert<T>(acc[std::size_t(j)]);
}

}  // namespace evaclip::cpu
