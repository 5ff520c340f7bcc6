// Tests the CUDA element-wise kernels (add, mul, scale, exp_clamp, drop_path) against the CPU reference
// kernels on the same random inputs, for float, bf16 and f16, at tiny, odd and the model's real sizes.
//
// add/mul/scale/drop_path are one float operation rounded once to T on both sides, so they must agree bit
// for bit; exp_clamp (expf vs std::exp) is compared within tolerance<T>(). Outputs are poisoned with NaN
// bytes first, so an element the kernel never writes fails the comparison.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/drop_path.hpp"
#include "evaclip/ops/cpu/elementwise.hpp"
#include "evaclip/ops/cpu/exp_clamp.hpp"
#include "evaclip/ops/cuda/drop_path.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"
#include "evaclip/ops/cuda/exp_clamp.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;
namespace ref = evaclip::cpu;
using namespace evaclip::gpu_test;

namespace {

struct RC {
  std::int64_t R, C;
};
// Tiny, odd (not a multiple of any vector width), the residual add (R = 1), bias/layer scale (C = D),
// positional embedding (C = T D), at the widths of B/16, L/14, the text towers and E/14.
const std::vector<RC> kBroadcastShapes = {
    {1, 1},         {1, 7},         {3, 5},          {5, 8},        {2, 1001},       {13, 24},       {1, 8 * 197 * 768},
    {8 * 197, 768}, {8, 197 * 768}, {8 * 257, 1024}, {8 * 77, 512}, {8 * 257, 1408}, {8 * 77, 1280}, {4 * 257, 1792}};

std::string describe(const RC& s) {
  std::ostringstream os;
  os << "R " << s.R << " C " << s.C;
  return os.str();
}

template <class T>
class CudaElementwise : public GpuTest {};
TYPED_TEST_SUITE(CudaElementwise, StorageTypes);

template <class T, bool kMul>
void check_broadcast(const RC& s, std::int64_t offset = 0) {
  const DType dt = dtype_of<T>();
  const std::int64_t n = s.R * s.C;
  // `offset` elements in front of every operand misalign the device pointers (the scalar path).
  const Tensor a_full = host_randn({offset + n}, dt, 11 + std::uint64_t(n)),
               b_full = host_randn({offset + s.C}, dt, 12);
  const Tensor a = a_full.slice(0, offset, offset + n), b = b_full.slice(0, offset, offset + s.C);
  Tensor want = Tensor::empty({n}, dt);
  const Tensor da_full = a_full.to(Device::cuda), db_full = b_full.to(Device::cuda);
  const Tensor da = da_full.slice(0, offset, offset + n), db = db_full.slice(0, offset, offset + s.C);
  Tensor got_full = poisoned({offset + n}, dt);
  const Tensor got = got_full.slice(0, offset, offset + n);
  if constexpr (kMul) {
    ref::mul_forward<float, T>(ref::Backend{}, want.data<T>(), a.data<T>(), b.data<T>(), s.R, s.C);
    gpu::mul_forward<float, T>(gpu::Backend{}, got.data<T>(), da.data<T>(), db.data<T>(), s.R, s.C);
  } else {
    ref::add_forward<float, T>(ref::Backend{}, want.data<T>(), a.data<T>(), b.data<T>(), s.R, s.C);
    gpu::add_forward<float, T>(gpu::Backend{}, got.data<T>(), da.data<T>(), db.data<T>(), s.R, s.C);
  }
  expect_synced();
  EXPECT_TRUE(same_bits(want, got.contiguous())) << describe(s) << " offset " << offset;
}

TYPED_TEST(CudaElementwise, AddMatchesCpuBitForBit) {
  for (const RC& s : kBroadcastShapes) check_broadcast<TypeParam, false>(s);
}

TYPED_TEST(CudaElementwise, AddOnMisalignedPointersTakesTheScalarPath) {
  for (const RC& s : {RC{8 * 197, 768}, RC{3, 16}, RC{1, 4096}}) check_broadcast<TypeParam, false>(s, 1);
}

TYPED_TEST(CudaElementwise, MulMatchesCpuBitForBit) {
  for (const RC& s : kBroadcastShapes) check_broadcast<TypeParam, true>(s);
  check_broadcast<TypeParam, true>({8 * 8, 1});  // the learnt logit scale: x (numel, 1) times s (1,)
  check_broadcast<TypeParam, true>({8 * 197, 768}, 3);
}

TYPED_TEST(CudaElementwise, ScaleMatchesCpuBitForBit) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (const std::int64_t n :
       {std::int64_t(1), std::int64_t(7), std::int64_t(64), std::int64_t(1001), std::int64_t(8 * 197 * 768)}) {
    for (const double s : {0.125, -3.7, 1.0 / 3.0}) {
      const Tensor x = host_randn({n}, dt, 21 + std::uint64_t(n));
      Tensor want = Tensor::empty({n}, dt), got = poisoned({n}, dt);
      ref::scale_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), s, n);
      const Tensor dx = x.to(Device::cuda);
      gpu::scale_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), s, n);
      expect_synced();
      EXPECT_TRUE(same_bits(want, got)) << "n " << n << " s " << s;
    }
  }
}

TYPED_TEST(CudaElementwise, ExpClampMatchesCpu) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  struct Range {
    double lo, hi;
  };
  // A symmetric-ish clamp, CLIP's logit scale clamp (log 100) and an unbounded one.
  for (const Range r : {Range{-2.0, 1.5}, Range{0.0, std::log(100.0)}, Range{-INFINITY, INFINITY}}) {
    for (const std::int64_t n :
         {std::int64_t(1), std::int64_t(5), std::int64_t(64), std::int64_t(1001), std::int64_t(8 * 197 * 768)}) {
      // std 3: many values clamp; std 1 when unbounded, so that exp stays finite in f16 (max 65504).
      const bool bounded = std::isfinite(r.hi);
      const Tensor x = host_randn({n}, dt, 31 + std::uint64_t(n), bounded ? 3.0 : 1.0);
      Tensor want = Tensor::empty({n}, dt), got = poisoned({n}, dt);
      ref::exp_clamp_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), n, r.lo, r.hi);
      const Tensor dx = x.to(Device::cuda);
      gpu::exp_clamp_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), n, r.lo, r.hi);
      expect_synced();
      EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << "n " << n << " lo " << r.lo << " hi " << r.hi;
    }
  }
}

TYPED_TEST(CudaElementwise, ExpClampSaturatesAtTheBounds) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const Tensor x = Tensor::from({4}, dt, std::vector<double>{-50.0, 50.0, 0.0, 1.0}).to(Device::cuda);
  Tensor got = poisoned({4}, dt);
  gpu::exp_clamp_forward<float, T>(gpu::Backend{}, got.data<T>(), x.data<T>(), 4, -1.0, 0.5);
  expect_synced();
  const auto v = got.to_vector();
  const double rel = tolerance<T>();
  EXPECT_NEAR(v[0], std::exp(-1.0), rel * 2);
  EXPECT_NEAR(v[1], std::exp(0.5), rel * 2);
  EXPECT_NEAR(v[2], 1.0, rel * 2);
  EXPECT_NEAR(v[3], std::exp(0.5), rel * 2);
}

TYPED_TEST(CudaElementwise, DropPathMatchesCpuBitForBit) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  struct Bn {
    std::int64_t B, n;
  };
  for (const Bn s :
       {Bn{1, 1}, Bn{3, 5}, Bn{2, 16}, Bn{8, 1001}, Bn{8, 197 * 768}, Bn{4, 77 * 512}, Bn{8, 257 * 1024}}) {
    // Factors as drop_path_scales draws them (0 or 1 / keep), plus a few others.
    std::vector<double> f(std::size_t(s.B));
    for (std::size_t b = 0; b < f.size(); ++b) f[b] = std::vector<double>{0.0, 1.0 / 0.9, 1.0, 2.5, -0.75}[b % 5];
    const Tensor scale = Tensor::from({s.B}, DType::f32, f);
    const Tensor x = host_randn({s.B, s.n}, dt, 41 + std::uint64_t(s.n));
    Tensor want = Tensor::empty({s.B, s.n}, dt), got = poisoned({s.B, s.n}, dt);
    ref::drop_path_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), scale.data<float>(), s.B, s.n);
    const Tensor dx = x.to(Device::cuda), dscale = scale.to(Device::cuda);
    gpu::drop_path_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), dscale.data<float>(), s.B, s.n);
    expect_synced();
    EXPECT_TRUE(same_bits(want, got)) << "B " << s.B << " n " << s.n;
  }
}

TEST(CudaElementwiseHost, BackwardsAreNotBuiltYet) {
  // Host-only: the error is raised before anything touches a device.
  EXPECT_THROW((gpu::add_backward<float, float>(gpu::Backend{}, nullptr, nullptr, nullptr, 1, 1)), Error);
  EXPECT_THROW((gpu::mul_backward<float, bf16>(gpu::Backend{}, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 1)),
               Error);
  EXPECT_THROW((gpu::exp_clamp_backward<float, f16>(gpu::Backend{}, nullptr, nullptr, nullptr, 1, 0.0, 1.0)), Error);
  EXPECT_THROW((gpu::drop_path_backward<float, float>(gpu::Backend{}, nullptr, nullptr, nullptr, 1, 1)), Error);
}

}  // namespace
