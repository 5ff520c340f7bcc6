// Tests the CUDA data-movement kernels against the CPU reference on the same random inputs, for float,
// bf16 and f16: gather_rows (EOT pooling, patch dropout, embedding lookups, RoPE table rows), strided_copy
// (the head permutes, concat along dim 1, slices along dim 2, expand_batch, transposes, plain copies,
// ranks 0 to 9) and batch_sum.
//
// Copies and gathers must agree bit for bit; batch_sum (a float sum in another order) within
// tolerance<T>(). Outputs are poisoned with NaN bytes first, so an element never written fails.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/gather_rows.hpp"
#include "evaclip/ops/cpu/layout.hpp"
#include "evaclip/ops/cuda/gather_rows.cuh"
#include "evaclip/ops/cuda/layout.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;
namespace ref = evaclip::cpu;
using namespace evaclip::gpu_test;

namespace {

Tensor random_indices(Shape s, std::int64_t limit, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::int64_t> v(std::size_t(numel(s)));
  for (auto& i : v) i = std::int64_t(rng.next_u64() % std::uint64_t(limit));  // repeats on purpose
  return Tensor::from(std::move(s), DType::i64, v);
}

using View = std::function<Tensor(const Tensor&)>;
View same_view() {
  return [](const Tensor& t) { return t; };
}
View permuted(std::vector<std::int64_t> order) {
  return [order](const Tensor& t) { return t.permute(order); };
}
View sliced(std::int64_t dim, std::int64_t begin, std::int64_t end) {
  return [=](const Tensor& t) { return t.slice(dim, begin, end); };
}
// (B, T, H hd) -> (B, H, T, hd) as nn::split_heads, given (B, T, H, hd).
View split_heads_view(Shape bthd) {
  return [bthd](const Tensor& t) { return t.reshape(bthd).permute({0, 2, 1, 3}); };
}

// ---------------- gather_rows ----------------

template <class T>
class CudaGatherRows : public GpuTest {};
TYPED_TEST_SUITE(CudaGatherRows, StorageTypes);

TYPED_TEST(CudaGatherRows, MatchesCpuBitForBit) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  struct Case {
    std::int64_t B, S, K, D;
  };
  const Case cases[] = {
      {1, 5, 3, 4},             // tiny
      {2, 7, 5, 7},             // odd width: the scalar path
      {3, 9, 4, 12},            // width a multiple of 4 but not of 8
      {8, 77, 1, 512},          // text EOT pooling (B/16 text width)
      {8, 77, 1, 768},          // L/14 text
      {8, 197, 99, 768},        // patch dropout B/16: CLS + 98 kept of 196
      {8, 257, 129, 1024},      // patch dropout L/14
      {4, 577, 289, 1792},      // E/14 at 336 px
      {1, 49408, 8 * 77, 512},  // token embedding lookup: B = 1, the (V, D) table
      {1, 196, 8 * 98, 64},     // a RoPE table gathered per sample: hd = 64 rows
  };
  for (const Case& c : cases) {
    const Tensor x = host_randn({c.B, c.S, c.D}, dt, 100 + std::uint64_t(c.S * c.D));
    const Tensor idx = random_indices({c.B, c.K}, c.S, 7 + std::uint64_t(c.K));
    Tensor want = Tensor::empty({c.B, c.K, c.D}, dt);
    ref::gather_rows_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), idx.data<std::int64_t>(), c.B, c.S,
                                       c.K, c.D);
    const Tensor dx = x.to(Device::cuda), didx = idx.to(Device::cuda);
    Tensor got = poisoned({c.B, c.K, c.D}, dt);
    gpu::gather_rows_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), didx.data<std::int64_t>(), c.B, c.S,
                                       c.K, c.D);
    expect_synced();
    EXPECT_TRUE(same_bits(want, got)) << "B " << c.B << " S " << c.S << " K " << c.K << " D " << c.D;
  }
}

TYPED_TEST(CudaGatherRows, FirstAndLastRowsOfEverySample) {
  // Indices 0 and S - 1 of every sample: a wrong sample offset or row stride reads the neighbour's row.
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const std::int64_t B = 3, S = 6, K = 4, D = 16;
  const Tensor x = host_randn({B, S, D}, dt, 5);
  const Tensor idx = Tensor::from({B, K}, DType::i64, std::vector<std::int64_t>{0, 5, 5, 0, 5, 0, 1, 4, 2, 2, 0, 5});
  Tensor want = Tensor::empty({B, K, D}, dt);
  ref::gather_rows_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), idx.data<std::int64_t>(), B, S, K, D);
  const Tensor dx = x.to(Device::cuda), didx = idx.to(Device::cuda);
  Tensor got = poisoned({B, K, D}, dt);
  gpu::gather_rows_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), didx.data<std::int64_t>(), B, S, K,
                                     D);
  expect_synced();
  EXPECT_TRUE(same_bits(want, got));
}

// ---------------- strided_copy ----------------

template <class T>
class CudaStridedCopy : public GpuTest {};
TYPED_TEST_SUITE(CudaStridedCopy, StorageTypes);

// Copies view(src) into a fresh contiguous tensor on both backends and compares the bits.
template <class T>
void expect_view_copy(const Tensor& src_host, const View& view, const char* what) {
  const DType dt = dtype_of<T>();
  const Tensor src_dev = src_host.to(Device::cuda);
  const Tensor hv = view(src_host), dv = view(src_dev);
  Tensor want = Tensor::empty(hv.shape(), dt);
  ref::strided_copy(ref::Backend{}, want.data<T>(), want.strides(), hv.data<T>(), hv.strides(), hv.shape());
  Tensor got = poisoned(dv.shape(), dt);
  gpu::strided_copy(gpu::Backend{}, got.data<T>(), got.strides(), dv.data<T>(), dv.strides(), dv.shape());
  expect_synced();
  EXPECT_TRUE(same_bits(want, got)) << what << " of " << to_string(src_host.shape());
}

TYPED_TEST(CudaStridedCopy, SplitHeadsPermute) {
  // (B, T, H hd) viewed (B, T, H, hd) -> (B, H, T, hd), as nn::split_heads.
  struct Case {
    std::int64_t B, T, H, hd;
  };
  for (const Case c : {Case{8, 197, 12, 64}, Case{8, 257, 16, 64}, Case{8, 77, 8, 64}, Case{2, 5, 3, 7},
                       Case{1, 3, 2, 4}, Case{4, 99, 12, 64}}) {
    const Tensor x = host_randn({c.B, c.T, c.H * c.hd}, dtype_of<TypeParam>(), 3 + std::uint64_t(c.T));
    expect_view_copy<TypeParam>(x, split_heads_view({c.B, c.T, c.H, c.hd}), "split_heads");
  }
}

TYPED_TEST(CudaStridedCopy, MergeHeadsPermute) {
  // (B, H, T, hd) -> (B, T, H, hd), as nn::merge_heads (then a reshape to (B, T, H hd)).
  struct Case {
    std::int64_t B, H, T, hd;
  };
  for (const Case c : {Case{8, 12, 197, 64}, Case{8, 16, 257, 64}, Case{8, 8, 77, 64}, Case{3, 2, 5, 9}}) {
    const Tensor x = host_randn({c.B, c.H, c.T, c.hd}, dtype_of<TypeParam>(), 4 + std::uint64_t(c.T));
    expect_view_copy<TypeParam>(x, permuted({0, 2, 1, 3}), "merge_heads");
  }
}

TYPED_TEST(CudaStridedCopy, SliceAlongDim2) {
  // q, k, v of a fused (B, T, 3D) projection; an odd start misaligns the rows (narrower elements).
  const std::int64_t B = 8, T = 197, D = 768;
  const Tensor x = host_randn({B, T, 3 * D}, dtype_of<TypeParam>(), 8);
  for (const std::int64_t begin : {std::int64_t(0), D, 2 * D, std::int64_t(3), std::int64_t(2), std::int64_t(4)}) {
    expect_view_copy<TypeParam>(x, sliced(2, begin, begin + D - 8), "slice dim 2");
  }
  const Tensor odd = host_randn({3, 5, 11}, dtype_of<TypeParam>(), 9);
  expect_view_copy<TypeParam>(odd, sliced(2, 1, 8), "odd slice dim 2");
  expect_view_copy<TypeParam>(x, sliced(1, 1, T), "slice dim 1 (drop CLS)");
}

TYPED_TEST(CudaStridedCopy, ConcatAlongDim1) {
  // concat({cls (B, 1, D), patches (B, N, D)}, 1) -> (B, 1 + N, D): one copy per piece into a slice of y.
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  struct Case {
    std::int64_t B, N, D;
  };
  for (const Case c : {Case{8, 196, 768}, Case{8, 256, 1024}, Case{2, 3, 5}, Case{4, 576, 1408}}) {
    const Tensor cls = host_randn({c.B, 1, c.D}, dt, 1), patches = host_randn({c.B, c.N, c.D}, dt, 2);
    const Tensor dcls = cls.to(Device::cuda), dpatches = patches.to(Device::cuda);
    Tensor want = Tensor::empty({c.B, 1 + c.N, c.D}, dt);
    Tensor got = poisoned({c.B, 1 + c.N, c.D}, dt);
    std::int64_t begin = 0;
    for (const auto& [h, d] : {std::pair{&cls, &dcls}, std::pair{&patches, &dpatches}}) {
      const std::int64_t len = h->shape()[1];
      const Tensor wd = want.slice(1, begin, begin + len), gd = got.slice(1, begin, begin + len);
      ref::strided_copy(ref::Backend{}, wd.data<T>(), wd.strides(), h->template data<T>(), h->strides(), h->shape());
      gpu::strided_copy(gpu::Backend{}, gd.data<T>(), gd.strides(), d->template data<T>(), d->strides(), d->shape());
      begin += len;
    }
    expect_synced();
    EXPECT_TRUE(same_bits(want, got)) << "concat B " << c.B << " N " << c.N << " D " << c.D;
  }
}

TYPED_TEST(CudaStridedCopy, ExpandBatch) {
  // The call of ops/layout.hpp's expand_batch: source stride 0 over the batch.
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (const std::int64_t batch : {std::int64_t(1), std::int64_t(8), std::int64_t(13)}) {
    for (const std::int64_t inner : {std::int64_t(768), std::int64_t(5), std::int64_t(197 * 768), std::int64_t(1024)}) {
      const Tensor x = host_randn({1, 1, inner}, dt, 6 + std::uint64_t(inner));
      const Tensor dxv = x.to(Device::cuda);
      Tensor want = Tensor::empty({batch, 1, inner}, dt);
      Tensor got = poisoned({batch, 1, inner}, dt);
      ref::strided_copy(ref::Backend{}, want.data<T>(), {inner, 1}, x.data<T>(), {0, 1}, {batch, inner});
      gpu::strided_copy(gpu::Backend{}, got.data<T>(), {inner, 1}, dxv.data<T>(), {0, 1}, {batch, inner});
      expect_synced();
      EXPECT_TRUE(same_bits(want, got)) << "batch " << batch << " inner " << inner;
    }
  }
}

TYPED_TEST(CudaStridedCopy, TransposeAndOtherPermutes) {
  // Inner stride != 1 on the source: the one-element path with full unravelling.
  const DType dt = dtype_of<TypeParam>();
  const Tensor x = host_randn({8, 197, 768}, dt, 10);
  expect_view_copy<TypeParam>(x, permuted({0, 2, 1}), "transpose last two");
  const Tensor y = host_randn({3, 4, 5, 6, 7}, dt, 11);
  expect_view_copy<TypeParam>(y, permuted({4, 2, 0, 3, 1}), "rank-5 permute");
  expect_view_copy<TypeParam>(y, permuted({1, 0, 2, 3, 4}), "outer swap");
  const Tensor z = host_randn({2, 1, 3, 1, 4}, dt, 12);
  expect_view_copy<TypeParam>(z, permuted({3, 2, 1, 4, 0}), "size-1 dims");
}

TYPED_TEST(CudaStridedCopy, ContiguousCopiesAndSmallRanks) {
  const DType dt = dtype_of<TypeParam>();
  for (const Shape& s : {Shape{8 * 197 * 768}, Shape{7}, Shape{1}, Shape{8, 197, 768}, Shape{3, 1, 5}}) {
    const Tensor x = host_randn(s, dt, 13);
    expect_view_copy<TypeParam>(x, same_view(), "contiguous copy");
  }
  // Rank 0: one element.
  const Tensor scalar = Tensor::from(Shape{}, dt, std::vector<double>{2.5});
  expect_view_copy<TypeParam>(scalar, same_view(), "rank 0");
  // Rank 9 that merges (contiguous) and rank 8 that does not (every dimension reversed).
  const Tensor r9 = host_randn({2, 2, 2, 2, 2, 2, 2, 2, 2}, dt, 14);
  expect_view_copy<TypeParam>(r9, same_view(), "rank 9 contiguous");
  const Tensor r8 = host_randn({2, 3, 2, 3, 2, 3, 2, 3}, dt, 15);
  expect_view_copy<TypeParam>(r8, permuted({7, 6, 5, 4, 3, 2, 1, 0}), "rank 8 reversed");
}

TYPED_TEST(CudaStridedCopy, EmptyShapeWritesNothing) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  Tensor got = poisoned({4}, dt);
  const Tensor src = host_randn({4}, dt, 16).to(Device::cuda);
  gpu::strided_copy(gpu::Backend{}, got.data<T>(), {5, 1}, src.data<T>(), {5, 1}, {0, 5});
  expect_synced();
  Tensor want = Tensor::empty({4}, dt);
  std::memset(want.raw(), 0xFF, want.nbytes());
  EXPECT_TRUE(same_bits(want, got));
}

TYPED_TEST(CudaStridedCopy, FailsClearlyAboveEightUnmergeableDimensions) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const Tensor x = Tensor::empty({2, 2, 2, 2, 2, 2, 2, 2, 2}, dt, Device::cuda);
  const Tensor reversed = x.permute({8, 7, 6, 5, 4, 3, 2, 1, 0});
  Tensor y = Tensor::empty(reversed.shape(), dt, Device::cuda);
  try {
    gpu::strided_copy(gpu::Backend{}, y.data<T>(), y.strides(), reversed.data<T>(), reversed.strides(),
                      reversed.shape());
    ADD_FAILURE() << "a rank-9 copy that does not merge should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 8"), std::string::npos) << e.what();
  }
}

// ---------------- strided_copy's plan and index arithmetic, on the host ----------------
// The simplification, the element width and the kernel's offsets (CopyGeometry::offsets, host-callable)
// run on the CPU here, emulating one launch element by element: these tests need no device.

template <class T>
class CudaStridedCopyPlan : public ::testing::Test {};
TYPED_TEST_SUITE(CudaStridedCopyPlan, StorageTypes);

// Emulates the CUDA strided_copy of view(src) on the host with index type I; returns the plan's width.
template <class T, class I>
int emulate_copy(Tensor& dst, const Tensor& view) {
  const gpu::ew::CopyPlan p =
      gpu::ew::plan_strided_copy(dst.raw(), dst.strides(), view.raw(), view.strides(), view.shape(), int(sizeof(T)));
  const gpu::ew::CopyGeometry<I> g(p);
  auto* d = static_cast<unsigned char*>(dst.raw());
  const auto* s = static_cast<const unsigned char*>(view.raw());
  for (std::int64_t e = 0; e < p.numel(); ++e) {
    std::int64_t od, os;
    g.offsets(I(e), od, os);
    std::memcpy(d + od * p.width, s + os * p.width, std::size_t(p.width));
  }
  return p.width;
}

template <class T>
void expect_emulated_copy(const Tensor& src, const View& view, int want_width, const char* what) {
  const DType dt = dtype_of<T>();
  const Tensor v = view(src);
  Tensor want = Tensor::empty(v.shape(), dt);
  ref::strided_copy(ref::Backend{}, want.data<T>(), want.strides(), v.data<T>(), v.strides(), v.shape());
  for (const bool wide : {false, true}) {
    Tensor got = Tensor::empty(v.shape(), dt);
    std::memset(got.raw(), 0xFF, got.nbytes());
    const int width = wide ? emulate_copy<T, std::int64_t>(got, v) : emulate_copy<T, std::uint32_t>(got, v);
    EXPECT_EQ(width, want_width) << what;
    EXPECT_TRUE(same_bits(want, got)) << what << (wide ? " (64-bit indices)" : " (32-bit indices)");
  }
}

TYPED_TEST(CudaStridedCopyPlan, EmulatedCopiesMatchCpu) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const int e = int(sizeof(T));
  const Tensor x = host_randn({2, 9, 4 * 64}, dt, 30);  // (B, T, H hd) with H = 4, hd = 64
  expect_emulated_copy<T>(x, split_heads_view({2, 9, 4, 64}), 16, "split_heads");
  const Tensor xh = host_randn({2, 4, 9, 64}, dt, 31);
  expect_emulated_copy<T>(xh, permuted({0, 2, 1, 3}), 16, "merge_heads");
  const Tensor odd = host_randn({2, 5, 3, 7}, dt, 32);
  expect_emulated_copy<T>(odd, permuted({0, 2, 1, 3}), e, "odd head permute");
  const Tensor qkv = host_randn({2, 5, 3 * 64}, dt, 33);
  expect_emulated_copy<T>(qkv, sliced(2, 64, 128), 16, "slice dim 2");
  expect_emulated_copy<T>(qkv, sliced(2, 3, 67), e, "slice dim 2 at 3");
  expect_emulated_copy<T>(qkv, sliced(2, 2, 66), 2 * e, "slice dim 2 at 2");
  expect_emulated_copy<T>(qkv, sliced(1, 1, 5), 16, "slice dim 1");
  expect_emulated_copy<T>(qkv, permuted({0, 2, 1}), e, "transpose");
  expect_emulated_copy<T>(qkv, same_view(), 16, "contiguous");
  const Tensor r5 = host_randn({3, 4, 5, 6, 7}, dt, 34);
  expect_emulated_copy<T>(r5, permuted({4, 2, 0, 3, 1}), e, "rank-5 permute");
  // Merged to (4, 3, 210): rows of 210 e bytes (840 or 420) take 2e-byte elements, not 16.
  expect_emulated_copy<T>(r5, permuted({1, 0, 2, 3, 4}), 2 * e, "outer swap");
  const Tensor r8 = host_randn({2, 3, 2, 3, 2, 3, 2, 3}, dt, 35);
  expect_emulated_copy<T>(r8, permuted({7, 6, 5, 4, 3, 2, 1, 0}), e, "rank 8");
  const Tensor scalar = Tensor::from(Shape{}, dt, std::vector<double>{1.5});
  expect_emulated_copy<T>(scalar, same_view(), e, "rank 0");
}

TYPED_TEST(CudaStridedCopyPlan, ExpandBatchAndConcatPieces) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  // expand_batch: (1, inner) read with stride 0 over the batch.
  const Tensor cls = host_randn({1, 64}, dt, 36);
  Tensor want = Tensor::empty({5, 64}, dt), got = Tensor::empty({5, 64}, dt);
  ref::strided_copy(ref::Backend{}, want.data<T>(), {64, 1}, cls.data<T>(), {0, 1}, {5, 64});
  const auto p = gpu::ew::plan_strided_copy(got.raw(), {64, 1}, cls.raw(), {0, 1}, {5, 64}, int(sizeof(T)));
  EXPECT_EQ(p.rank, 2);
  EXPECT_EQ(p.width, 16);
  const gpu::ew::CopyGeometry<std::uint32_t> g(p);
  for (std::int64_t e = 0; e < p.numel(); ++e) {
    std::int64_t od, os;
    g.offsets(std::uint32_t(e), od, os);
    std::memcpy(static_cast<char*>(got.raw()) + od * 16, static_cast<const char*>(cls.raw()) + os * 16, 16);
  }
  EXPECT_TRUE(same_bits(want, got));
  // A concat piece: patches (2, 3, 64) into rows 1..3 of y (2, 4, 64) simplifies to rank 2.
  Tensor y = Tensor::empty({2, 4, 64}, dt);
  const Tensor piece = y.slice(1, 1, 4);
  const auto q = gpu::ew::plan_strided_copy(piece.raw(), piece.strides(), y.raw(), contiguous_strides({2, 3, 64}),
                                            {2, 3, 64}, int(sizeof(T)));
  EXPECT_EQ(q.rank, 2);
  EXPECT_EQ(q.size[1], 3 * 64 * std::int64_t(sizeof(T)) / 16);
}

TEST(CudaStridedCopyPlanHost, MoreThanEightDimensionsThatDoNotMergeThrow) {
  const Tensor x = Tensor::empty({2, 2, 2, 2, 2, 2, 2, 2, 2}, DType::f32);
  const Tensor r = x.permute({8, 7, 6, 5, 4, 3, 2, 1, 0});
  EXPECT_THROW(gpu::ew::plan_strided_copy(x.raw(), x.strides(), r.raw(), r.strides(), r.shape(), 4), Error);
  EXPECT_NO_THROW(gpu::ew::plan_strided_copy(x.raw(), x.strides(), x.raw(), x.strides(), x.shape(), 4));
}

TEST(CudaDividerHost, MatchesIntegerDivision) {
  Rng rng(77);
  const std::int64_t limit = std::int64_t(1) << 31;
  for (int it = 0; it < 200000; ++it) {
    const std::int64_t d = it % 3 == 0 ? 1 + std::int64_t(rng.next_u64() % 300)
                                       : 1 + std::int64_t(rng.next_u64() % std::uint64_t(limit - 1));
    const gpu::ew::Divider<std::uint32_t> div(d);
    for (const std::int64_t n :
         {std::int64_t(0), d - 1, d, d + 1, limit - 1, std::int64_t(rng.next_u64() % std::uint64_t(limit))}) {
      if (n < 0 || n >= limit) continue;
      ASSERT_EQ(std::int64_t(div.div(std::uint32_t(n))), n / d) << n << " / " << d;
    }
  }
}

// ---------------- batch_sum ----------------

template <class T>
class CudaBatchSum : public GpuTest {};
TYPED_TEST_SUITE(CudaBatchSum, StorageTypes);

TYPED_TEST(CudaBatchSum, MatchesCpu) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  struct Case {
    std::int64_t B, inner;
  };
  for (const Case c : {Case{1, 5}, Case{8, 768}, Case{3, 1001}, Case{256, 1024}, Case{8, 197 * 768}, Case{0, 7}}) {
    const Tensor dy = host_randn({c.B, c.inner}, dt, 20 + std::uint64_t(c.B));
    Tensor want = Tensor::empty({c.inner}, dt), got = poisoned({c.inner}, dt);
    ref::batch_sum<float, T>(ref::Backend{}, want.data<T>(), dy.data<T>(), c.B, c.inner);
    const Tensor ddy = c.B > 0 ? dy.to(Device::cuda) : Tensor::empty({1}, dt, Device::cuda);
    gpu::batch_sum<float, T>(gpu::Backend{}, got.data<T>(), ddy.data<T>(), c.B, c.inner);
    expect_synced();
    EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << "B " << c.B << " inner " << c.inner;
  }
}

}  // namespace
