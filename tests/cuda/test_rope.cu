// Tests the CUDA rope2d_forward against the CPU reference on the same random inputs, for float, bf16 and
// f16: shared (L - prefix, hd) and per-sample (B, L - prefix, hd) tables, prefix 1 (CLS) and 0, the
// model's token counts (197, 257, and 99 / 129 after patch dropout), and head dims that force the
// one-pair path. Rotated values are compared within tolerance<T>() (the GPU may fuse the products);
// the prefix rows are copies and must be bit-identical to x. Outputs are poisoned with NaN bytes first.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/rope.hpp"
#include "evaclip/ops/cuda/rope.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;
namespace ref = evaclip::cpu;
using namespace evaclip::gpu_test;

namespace {

struct Case {
  std::int64_t B, H, L, hd, prefix;
  bool per_sample;
};

std::string describe(const Case& c) {
  std::ostringstream os;
  os << "B " << c.B << " H " << c.H << " L " << c.L << " hd " << c.hd << " prefix " << c.prefix
     << (c.per_sample ? " per-sample" : " shared");
  return os.str();
}

template <class T>
class CudaRope2d : public GpuTest {};
TYPED_TEST_SUITE(CudaRope2d, StorageTypes);

template <class T>
void check_rope(const Case& c) {
  const DType dt = dtype_of<T>();
  const Shape xs{c.B, c.H, c.L, c.hd};
  const Shape ts = c.per_sample ? Shape{c.B, c.L - c.prefix, c.hd} : Shape{c.L - c.prefix, c.hd};
  const Tensor x = host_randn(xs, dt, 50 + std::uint64_t(c.L * c.hd));
  Rng rng(51 + std::uint64_t(c.L));
  // Random values in [-1, 1] rather than real angles: every pairing and table index is distinguishable.
  const Tensor cos = Tensor::uniform(ts, DType::f32, rng, -1.0, 1.0),
               sin = Tensor::uniform(ts, DType::f32, rng, -1.0, 1.0);
  Tensor want = Tensor::empty(xs, dt);
  ref::rope2d_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), cos.data<float>(), sin.data<float>(), c.B,
                                c.H, c.L, c.hd, c.prefix, c.per_sample);
  const Tensor dx = x.to(Device::cuda), dcos = cos.to(Device::cuda), dsin = sin.to(Device::cuda);
  Tensor got_dev = poisoned(xs, dt);
  gpu::rope2d_forward<float, T>(gpu::Backend{}, got_dev.data<T>(), dx.data<T>(), dcos.data<float>(), dsin.data<float>(),
                                c.B, c.H, c.L, c.hd, c.prefix, c.per_sample);
  expect_synced();
  const Tensor got = got_dev.to(Device::cpu);
  EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << describe(c);
  // The prefix rows pass through unchanged.
  const std::size_t row_bytes = std::size_t(c.hd) * sizeof(T);
  for (std::int64_t bh = 0; bh < c.B * c.H; ++bh) {
    for (std::int64_t t = 0; t < c.prefix; ++t) {
      const std::int64_t off = (bh * c.L + t) * c.hd;
      ASSERT_EQ(std::memcmp(got.data<T>() + off, x.data<T>() + off, row_bytes), 0)
          << describe(c) << ": prefix row " << t << " of (b, h) " << bh << " is not a copy of x";
    }
  }
}

TYPED_TEST(CudaRope2d, SharedTableWithClsPrefix) {
  for (const Case c : {Case{8, 12, 197, 64, 1, false}, Case{8, 16, 257, 64, 1, false}, Case{2, 3, 17, 64, 1, false}})
    check_rope<TypeParam>(c);
}

TYPED_TEST(CudaRope2d, SharedTableWithoutPrefix) {
  for (const Case c : {Case{2, 3, 16, 64, 0, false}, Case{8, 12, 196, 64, 0, false}}) check_rope<TypeParam>(c);
}

TYPED_TEST(CudaRope2d, PerSampleTablesAfterPatchDropout) {
  for (const Case c : {Case{8, 12, 99, 64, 1, true}, Case{8, 16, 129, 64, 1, true}, Case{3, 2, 4, 64, 0, true},
                       Case{5, 3, 7, 64, 1, true}})
    check_rope<TypeParam>(c);
}

TYPED_TEST(CudaRope2d, HeadDimsOffTheVectorWidth) {
  // hd = 6 and 2: not a multiple of 4 or 8, the one-pair path; hd = 12: vector path for float only.
  for (const Case c :
       {Case{2, 2, 5, 6, 1, false}, Case{3, 2, 4, 2, 0, true}, Case{2, 3, 9, 12, 1, true}, Case{2, 2, 7, 6, 1, true}})
    check_rope<TypeParam>(c);
}

TYPED_TEST(CudaRope2d, AllTokensInThePrefixAreCopied) { check_rope<TypeParam>(Case{2, 2, 3, 8, 3, false}); }

TEST(CudaRope2dHost, BackwardIsNotBuiltYet) {
  EXPECT_THROW(
      (gpu::rope2d_backward<float, bf16>(gpu::Backend{}, nullptr, nullptr, nullptr, nullptr, 1, 1, 1, 2, 0, false)),
      Error);
}

}  // namespace
