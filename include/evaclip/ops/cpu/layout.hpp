// layout.hpp (cpu) — defines strided_copy and batch_sum: the data movement behind reshape/permute/concat/
// slice/expand_batch.
//
// strided_copy walks one index space (shape) and reads/writes through two stride sets, so a permutation,
// a slice, a concat piece or a broadcast (stride 0) is one call with the right strides and base pointers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/shape.hpp"
#include "evaclip/ops/copy_dims.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// dst[i · dst_strides] = src[i · src_strides] for every index i of `shape` (any rank, element strides).
template <class T>
void strided_copy(Backend, T* dst, const Strides& dst_strides, const T* src, const Strides& src_strides,
                  const Shape& shape) {
  if (numel(shape) == 0) return;
  const CopyDims c = merge_copy_dims(dst_strides, src_strides, shape);
  // The innermost merged dimension is the inner loop (a plain copy when both its strides are 1); every
  // row (index over the others) is an independent task. A thread unravels its first row once and steps
  // through the rest with an odometer, so no row pays for divisions.
  const std::size_t outer = c.size.size() - 1;
  const std::int64_t inner = c.size.back(), rows = numel(shape) / inner;
  const std::int64_t ds = c.dst.back(), ss = c.src.back();
  parallel_ranges(rows, inner, [&](std::int64_t r_begin, std::int64_t r_end) {
    std::vector<std::int64_t> idx(outer);
    std::int64_t od = 0, os = 0, rem = r_begin;
    for (std::size_t d = outer; d-- > 0;) {
      idx[d] = rem % c.size[d];
      rem /= c.size[d];
      od += idx[d] * c.dst[d];
      os += idx[d] * c.src[d];
    }
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      if (ds == 1 && ss == 1) std::copy_n(src + os, inner, dst + od);
      else
        for (std::int64_t j = 0; j < inner; ++j) dst[od + j * ds] = src[os + j * ss];
      for (std::size_t d = outer; d-- > 0;) {
        od += c.dst[d];
        os += c.src[d];
        if (++idx[d] < c.size[d]) break;
        od -= c.dst[d] * c.size[d];
        os -= c.src[d] * c.size[d];
        idx[d] = 0;
      }
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
