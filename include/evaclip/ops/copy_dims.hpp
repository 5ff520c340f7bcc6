// copy_dims.hpp — defines merge_copy_dims: the index space of a strided copy with its size-1 dimensions
// dropped and neighbours that are contiguous in both stride sets merged. The CPU and CUDA strided_copy
// both start from it: a plain copy becomes rank 1, a concat piece rank 2, and the (B, T, H, hd) <->
// (B, H, T, hd) head permutes stay rank 4.
#pragma once

#include <cstdint>
#include <vector>

#include "evaclip/core/shape.hpp"

namespace evaclip {

// Dimensions outermost first, with their element strides in dst and src; never empty (one element is
// rank 1 of size 1).
struct CopyDims {
  std::vector<std::int64_t> size, dst, src;
};

inline CopyDims merge_copy_dims(const Strides& dst_strides, const Strides& src_strides, const Shape& shape) {
  CopyDims c;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!c.size.empty() && c.dst.back() == dst_strides[d] * shape[d] && c.src.back() == src_strides[d] * shape[d]) {
      c.size.back() *= shape[d];
      c.dst.back() = dst_strides[d];
      c.src.back() = src_strides[d];
    } else {
      c.size.push_back(shape[d]);
      c.dst.push_back(dst_strides[d]);
      c.src.push_back(src_strides[d]);
    }
  }
  if (c.size.empty()) c = CopyDims{{1}, {0}, {0}};
  return c;
}

}  // namespace evaclip
