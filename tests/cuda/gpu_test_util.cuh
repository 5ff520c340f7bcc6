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

// How far got is from ref: the largest |got - ref| (a NaN counts as infinite), where it is, and max |ref|.
struct ReferenceError {
  double worst = 0, scale = 0;
  std::int64_t at = 0;
  double relative() const { return worst / std::max(scale, 1e-30); }
};

// ref on the host, got on either device, of one shape (OpenMP over the elements: references run
// to hundreds of millions of elements).
inline ReferenceError reference_error(const Tensor& ref_any, const Tensor& got_any) {
  EVACLIP_CHECK(ref_any.shape() == got_any.shape(), "reference_error: ", to_string(got_any.shape()),
                " vs reference ", to_string(ref_any.shape()));
  // One dtype to compare in: the common one, or f64 when they differ.
  const DType dt = ref_any.dtype() == got_any.dtype() ? ref_any.dtype() : DType::f64;
  const Tensor ref = ref_any.contiguous().to(dt), got = got_any.to(Device::cpu).contiguous().to(dt);
  const std::int64_t n = ref.numel();
  ReferenceError e;
  visit_dtype(dt, [&](auto z) {
    using T = decltype(z);
    const T *a = ref.data<T>(), *b = got.data<T>();
#pragma omp parallel
    {
      ReferenceError local;
#pragma omp for nowait
      for (std::int64_t i = 0; i < n; ++i) {
        const double r = convert<double>(a[i]), d = std::abs(r - convert<double>(b[i]));
        local.scale = std::max(local.scale, std::abs(r));
        if (std::isnan(d) || d > local.worst) local.worst = std::isnan(d) ? INFINITY : d, local.at = i;
      }
#pragma omp critical
      {
        e.scale = std::max(e.scale, local.scale);
        if (local.worst > e.worst || (local.worst == e.worst && local.at < e.at)) e.worst = local.worst, e.at = local.at;
      }
    }
  });
  return e;
}

// max |got - ref| <= rel * max |ref| (ref on the host, got on either device; NaN never passes).
inline ::testing::AssertionResult close_to_reference(const Tensor& ref, const Tensor& got, double rel) {
  if (ref.shape() != got.shape())
    return ::testing::AssertionFailure() << "shape " << to_string(got.shape()) << " vs reference "
                                         << to_string(ref.shape());
  const ReferenceError e = reference_error(ref, got);
  if (e.worst <= rel * std::max(e.scale, 1e-30)) return ::testing::AssertionSuccess();
  const auto value_at = [&](const Tensor& t) {
    return t.to(Device::cpu).contiguous().reshape({t.numel()}).slice(0, e.at, e.at + 1).to_vector()[0];
  };
  return ::testing::AssertionFailure() << "worst [" << e.at << "]: reference " << value_at(ref) << " got "
                                       << value_at(got)
                                       << ", error " << e.worst << " > " << rel << " x max|ref| " << e.scale;
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
