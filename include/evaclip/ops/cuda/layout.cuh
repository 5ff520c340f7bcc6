// layout.cuh (cuda) — defines strided_copy (the data movement of reshape/permute/concat/slice/expand_batch
// and split_heads/merge_heads) and batch_sum (the gradient of a batch broadcast).
//
// strided_copy first simplifies the problem on the host (merge_copy_dims: size-1 dimensions dropped,
// neighbours contiguous in both dst and src merged). When the innermost dimension has stride 1 on
// both sides, the copy is re-expressed in the widest element W in {16, 8, 4, 2} bytes that divides the
// row length, every outer stride and both base pointers: a split_heads row of hd = 64 bf16 becomes 8
// 16-byte vectors. One thread then moves one W-byte element (256 threads per block): it unravels its
// linear output index into coordinates with multiply-shift divisions (rank <= 8, geometry passed by value
// in the kernel parameters) and reads/writes through the two stride sets. Threads are in dst order, so
// writes are fully coalesced; for the head permutes each source row is a contiguous 128-byte segment.
// The plan and the offset arithmetic are host-callable, so tests check them without a device.
//
// batch_sum: one thread per column, summing the B rows in order in float (coalesced across threads;
// deterministic). It is used only by expand_batch's backward; small (the CLS token's gradient).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "evaclip/core/shape.hpp"
#include "evaclip/ops/copy_dims.hpp"
#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"

namespace evaclip::cuda {

namespace ew {

constexpr int kMaxCopyRank = 8;

// The copy after simplification: `width`-byte elements, dims [0, rank) outermost first, strides in
// units of the copied element.
struct CopyPlan {
  int rank = 0, width = 1;
  std::int64_t size[kMaxCopyRank] = {}, dst[kMaxCopyRank] = {}, src[kMaxCopyRank] = {};
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= size[d];
    return n;
  }
};

inline std::string strides_string(const Strides& s) { return to_string(Shape(s.begin(), s.end())); }

// Drops size-1 dimensions, merges a dimension into the one outside it when both stride sets are
// contiguous across the pair, then picks the widest element: W bytes must divide the contiguous row,
// every outer stride and both pointers. Throws when more than kMaxCopyRank dimensions remain.
inline CopyPlan plan_strided_copy(const void* dst, const Strides& dst_strides, const void* src,
                                  const Strides& src_strides, const Shape& shape, int elem_bytes) {
  const CopyDims dims = merge_copy_dims(dst_strides, src_strides, shape);
  const std::vector<std::int64_t>& size = dims.size;
  const std::vector<std::int64_t>& ds = dims.dst;
  const std::vector<std::int64_t>& ss = dims.src;
  const int rank = int(size.size());
  EVACLIP_CHECK(rank <= kMaxCopyRank, "strided_copy: shape ", to_string(shape), " with dst strides ",
                strides_string(dst_strides), " and src strides ", strides_string(src_strides), " has ", rank,
                " dimensions that do not merge; the CUDA kernel handles at most ", kMaxCopyRank);
  const int E = elem_bytes;
  int W = E;
  if (ds.back() == 1 && ss.back() == 1) {
    for (int w = 16; w > E; w /= 2) {
      bool ok = (size.back() * E) % w == 0 && reinterpret_cast<std::uintptr_t>(dst) % unsigned(w) == 0 &&
                reinterpret_cast<std::uintptr_t>(src) % unsigned(w) == 0;
      for (int d = 0; ok && d + 1 < rank; ++d)
        ok = (ds[std::size_t(d)] * E) % w == 0 && (ss[std::size_t(d)] * E) % w == 0;
      if (ok) {
        W = w;
        break;
      }
    }
  }
  CopyPlan p;
  p.rank = rank;
  p.width = W;
  const std::int64_t r = W / E;  // elements of T per copied element; when r > 1 the inner strides are 1
  for (int d = 0; d < rank; ++d) {
    const bool inner = d == rank - 1;
    p.size[d] = inner ? size[std::size_t(d)] / r : size[std::size_t(d)];
    p.dst[d] = inner ? ds[std::size_t(d)] : ds[std::size_t(d)] / r;
    p.src[d] = inner ? ss[std::size_t(d)] : ss[std::size_t(d)] / r;
  }
  return p;
}

// The plan as kernel parameters, with the dimension sizes as dividers.
template <class I>
struct CopyGeometry {
  int rank = 0;
  Divider<I> size[kMaxCopyRank];
  std::int64_t dst[kMaxCopyRank] = {}, src[kMaxCopyRank] = {};

  CopyGeometry() = default;
  explicit CopyGeometry(const CopyPlan& p) : rank(p.rank) {
    for (int d = 0; d < p.rank; ++d) {
      size[d] = Divider<I>(p.size[d]);
      dst[d] = p.dst[d];
      src[d] = p.src[d];
    }
  }
  // The dst and src offsets of linear (row-major) element index e: unravelled innermost first, dimension 0
  // takes the quotient left.
  __host__ __device__ __forceinline__ void offsets(I e, std::int64_t& od, std::int64_t& os) const {
    od = 0, os = 0;
#if defined(__CUDA_ARCH__)  // unrolled, the geometry is read with constant indices straight from the parameters
#pragma unroll
#endif
    for (int d = kMaxCopyRank - 1; d >= 1; --d) {
      if (d < rank) {
        const I q = size[d].div(e), c = e - q * size[d].d;
        od += std::int64_t(c) * dst[d];
        os += std::int64_t(c) * src[d];
        e = q;
      }
    }
    od += std::int64_t(e) * dst[0];
    os += std::int64_t(e) * src[0];
  }
};

// Unsigned integers of each size, so that a copy of W-byte elements is one W-byte load and store.
template <int W>
using Word =
    std::conditional_t<W == 16, uint4,
                       std::conditional_t<W == 8, uint2,
                                          std::conditional_t<W == 4, std::uint32_t,
                                                             std::conditional_t<W == 2, std::uint16_t, std::uint8_t>>>>;

template <class E, class I>
__global__ void __launch_bounds__(kBlock) strided_copy_kernel(E* dst, const E* src, I n, CopyGeometry<I> g) {
  const I e = global_index<I>();
  if (e >= n) return;
  std::int64_t od, os;
  g.offsets(e, od, os);
  dst[od] = src[os];
}

template <int W>
void launch_strided_copy(Backend be, void* dst, const void* src, const CopyPlan& p) {
  using E = Word<W>;
  const std::int64_t n = p.numel();
  if (fits_u32(n)) {
    strided_copy_kernel<E, std::uint32_t><<<blocks_for(n), kBlock, 0, stream_of(be)>>>(
        static_cast<E*>(dst), static_cast<const E*>(src), std::uint32_t(n), CopyGeometry<std::uint32_t>(p));
  } else {
    strided_copy_kernel<E, std::int64_t><<<blocks_for(n), kBlock, 0, stream_of(be)>>>(
        static_cast<E*>(dst), static_cast<const E*>(src), n, CopyGeometry<std::int64_t>(p));
  }
}

}  // namespace ew

// dst[i · dst_strides] = src[i · src_strides] for every index i of `shape` (any rank that simplifies to
// at most 8 dimensions; element strides; dst and src must not overlap).
template <class T>
void strided_copy(Backend be, T* dst, const Strides& dst_strides, const T* src, const Strides& src_strides,
                  const Shape& shape) {
  static_assert(std::is_trivially_copyable_v<T> && 16 % sizeof(T) == 0, "strided_copy: element size");
  EVACLIP_CHECK(dst_strides.size() == shape.size() && src_strides.size() == shape.size(), "strided_copy: shape ",
                to_string(shape), " with dst strides ", ew::strides_string(dst_strides), " and src strides ",
                ew::strides_string(src_strides));
  if (numel(shape) == 0) return;
  const ew::CopyPlan p = ew::plan_strided_copy(dst, dst_strides, src, src_strides, shape, int(sizeof(T)));
  switch (p.width) {
    case 16: ew::launch_strided_copy<16>(be, dst, src, p); break;
    case 8: ew::launch_strided_copy<8>(be, dst, src, p); break;
    case 4: ew::launch_strided_copy<4>(be, dst, src, p); break;
    case 2: ew::launch_strided_copy<2>(be, dst, src, p); break;
    default: ew::launch_strided_copy<1>(be, dst, src, p); break;
  }
  check_launch(be, "strided_copy");
}

namespace ew {
// dx: (inner,); dy: (B, inner).
template <class T>
__global__ void __launch_bounds__(kBlock) batch_sum_kernel(T* dx, const T* dy, std::int64_t B, std::int64_t inner) {
  const std::int64_t j = std::int64_t(blockIdx.x) * kBlock + threadIdx.x;
  if (j >= inner) return;
  float acc = 0.0f;
  for (std::int64_t b = 0; b < B; ++b) acc += to_f32(dy[b * inner + j]);
  dx[j] = from_f32<T>(acc);
}
}  // namespace ew

// dx (inner,) = sum over b of dy (B, inner): the gradient of a batch broadcast (overwrites dx).
template <class Acc, class T>
void batch_sum(Backend be, T* dx, const T* dy, std::int64_t B, std::int64_t inner) {
  if constexpr (!ew::kSupported<Acc, T>) {
    ew::unsupported("batch_sum");
  } else {
    if (inner <= 0) return;
    ew::batch_sum_kernel<T><<<ew::blocks_for(inner), ew::kBlock, 0, stream_of(be)>>>(dx, dy, B, inner);
    check_launch(be, "batch_sum");
  }
}

}  // namespace evaclip::cuda
