// gpu_test_util.cuh — defines what the GPU tests share: a fixture that skips without a device, seeded
// host tensors, and the comparison of a device result with its CPU reference.
//
// A GPU test runs the CUDA kernel and the CPU reference kernel (ops/cpu/) on the same random inputs and
// compares with the tolerance of the storage type: fp32 1e-5 and bf16/fp16 1e-2, both relative to the
// reference's largest magnitude (the same measure as the parity tests).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include <cuda_runtime.h>

#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"

namespace evaclip::gpu_test {

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

// The storage types every kernel is tested in (typed test suites).
using StorageTypes = ::testing::Types<float, bf16, f16>;

// The kernels' tolerance for storage type T, relative to the reference's largest magnitude.
template <class T>
constexpr double tolerance() {
  return sizeof(T) == 2 ? 1e-2 : 1e-5;
}

// Seeded N(0, std^2) host tensor of dtype dt.
inline Tensor host_randn(Shape s, DType dt, std::uint64_t seed, double std = 1.0) {
  Rng rng(seed);
  return Tensor::randn(std::move(s), dt, rng, std);
}

// max |got - ref| <= rel * max |ref| (ref on the host, got on either device; NaN never passes).
inline ::testing::AssertionResult close_to_reference(const Tensor& ref, const Tensor& got, double rel) {
  if (ref.shape() != got.shape())
    return ::testing::AssertionFailure() << "shape " << to_string(got.shape()) << " vs reference "
                                         << to_string(ref.shape());
  const auto a = ref.to_vector(), b = got.to_vector();
  double scale = 0, worst = 0;
  std::size_t wi = 0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a[i] - b[i]);
    if (std::isnan(err) || err > worst) {
      worst = std::isnan(err) ? INFINITY : err;
      wi = i;
    }
  }
  if (worst <= rel * std::max(scale, 1e-30)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "worst [" << wi << "]: reference " << a[wi] << " got " << b[wi]
                                       << ", error " << worst << " > " << rel << " x max|ref| " << scale;
}

// A device tensor filled with 0xFF bytes: NaN in float, bf16 and f16, so an element a kernel fails to
// write cannot pass a comparison.
inline Tensor poisoned(Shape s, DType dt) {
  Tensor t = Tensor::empty(std::move(s), dt, Device::cuda);
  EXPECT_EQ(cudaMemset(t.raw(), 0xFF, t.nbytes()), cudaSuccess);
  return t;
}

// Fails the test when the device reports an error (a kernel fault surfaces at the next synchronisation).
inline void expect_synced() {
  const cudaError_t e = cudaDeviceSynchronize();
  ASSERT_EQ(e, cudaSuccess) << cudaGetErrorString(e);
}

// Equal shapes, dtypes and bytes (got on either device); names the first differing element.
inline ::testing::AssertionResult same_bits(const Tensor& want, const Tensor& got_any) {
  const Tensor got = got_any.to(Device::cpu);
  if (want.shape() != got.shape() || want.dtype() != got.dtype())
    return ::testing::AssertionFailure() << "shape/dtype " << to_string(got.shape()) << " vs "
                                         << to_string(want.shape());
  const std::size_t es = dtype_size(want.dtype());
  const auto* a = static_cast<const unsigned char*>(want.raw());
  const auto* b = static_cast<const unsigned char*>(got.raw());
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    if (std::memcmp(a + i * es, b + i * es, es) != 0) {
      const auto wv = want.to_vector(), gv = got.to_vector();
      return ::testing::AssertionFailure() << "element " << i << " of " << to_string(want.shape()) << ": reference "
                                           << wv[std::size_t(i)] << ", got " << gv[std::size_t(i)];
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace evaclip::gpu_test
