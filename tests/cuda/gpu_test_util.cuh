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
#include <string>

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

}  // namespace evaclip::gpu_test
