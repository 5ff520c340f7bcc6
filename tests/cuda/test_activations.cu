// Tests the CUDA activations (gelu, silu, swiglu) against the CPU reference kernels on the same random
// inputs, for float, bf16 and f16, within tolerance<T>() (erff/expf on the device against std::erf/std::exp):
// tiny and odd sizes (all tail), a 16-byte body plus a tail, the MLP activations of the real models,
// misaligned pointers, and the far tails where exp overflows. Outputs are poisoned with NaN bytes first,
// so an element the kernel never writes fails.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/activations.hpp"
#include "evaclip/ops/cuda/activations.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;
namespace ref = evaclip::cpu;
using namespace evaclip::gpu_test;

namespace {

enum class Act { gelu, silu, swiglu };

// One comparison on n elements; `offset` elements in front of every operand misalign its device pointer.
template <class T>
void check(Act act, std::int64_t n, std::int64_t offset = 0, double std = 3.0) {
  const DType dt = dtype_of<T>();
  const Tensor a_full = host_randn({offset + n}, dt, 100 + std::uint64_t(n) + std::uint64_t(act), std);
  const Tensor g_full = host_randn({offset + n}, dt, 200 + std::uint64_t(n));
  const Tensor a = a_full.slice(0, offset, offset + n), g = g_full.slice(0, offset, offset + n);
  Tensor want = Tensor::empty({n}, dt);
  const Tensor da_full = a_full.to(Device::cuda), dg_full = g_full.to(Device::cuda);
  const Tensor da = da_full.slice(0, offset, offset + n), dg = dg_full.slice(0, offset, offset + n);
  const Tensor got_full = poisoned({offset + n}, dt);
  const Tensor got = got_full.slice(0, offset, offset + n);
  switch (act) {
    case Act::gelu:
      ref::gelu_forward<float, T>(ref::Backend{}, want.data<T>(), a.data<T>(), n);
      gpu::gelu_forward<float, T>(gpu::Backend{}, got.data<T>(), da.data<T>(), n);
      break;
    case Act::silu:
      ref::silu_forward<float, T>(ref::Backend{}, want.data<T>(), a.data<T>(), n);
      gpu::silu_forward<float, T>(gpu::Backend{}, got.data<T>(), da.data<T>(), n);
      break;
    case Act::swiglu:
      ref::swiglu_forward<float, T>(ref::Backend{}, want.data<T>(), a.data<T>(), g.data<T>(), n);
      gpu::swiglu_forward<float, T>(gpu::Backend{}, got.data<T>(), da.data<T>(), dg.data<T>(), n);
      break;
  }
  expect_synced();
  EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << "act " << int(act) << " n " << n << " offset " << offset;
}

// Tiny and odd (tail only), one vector, a vector body plus a tail, and the MLP activations of 8 images:
// B/16's SwiGLU (197 x 2048), L/14's (257 x 2730), g/14's GELU (257 x 6144).
const std::vector<std::int64_t> kSizes = {1, 7, 8, 33, 1001, 8 * 197 * 2048, 8 * 257 * 2730, 8 * 257 * 6144 + 5};

template <class T>
class CudaActivations : public GpuTest {};
TYPED_TEST_SUITE(CudaActivations, StorageTypes);

TYPED_TEST(CudaActivations, GeluMatchesCpu) {
  for (const std::int64_t n : kSizes) check<TypeParam>(Act::gelu, n);
}
TYPED_TEST(CudaActivations, SiluMatchesCpu) {
  for (const std::int64_t n : kSizes) check<TypeParam>(Act::silu, n);
}
TYPED_TEST(CudaActivations, SwiGluMatchesCpu) {
  for (const std::int64_t n : kSizes) check<TypeParam>(Act::swiglu, n);
}

TYPED_TEST(CudaActivations, MisalignedPointersTakeTheScalarPath) {
  for (const Act act : {Act::gelu, Act::silu, Act::swiglu})
    for (const std::int64_t n : {std::int64_t(64), std::int64_t(197 * 768 + 3)}) check<TypeParam>(act, n, 1);
}

// Inputs out to |x| ~ 100 (std 40): exp(-x) overflows to inf for the most negative, which must give 0, not NaN.
TYPED_TEST(CudaActivations, FarTails) {
  for (const Act act : {Act::gelu, Act::silu, Act::swiglu}) check<TypeParam>(act, 4096, 0, 40.0);
}

}  // namespace
