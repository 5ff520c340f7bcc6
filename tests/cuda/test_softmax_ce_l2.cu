// Tests the CUDA softmax, l2_normalize and cross_entropy forward kernels against the CPU reference kernels
// on the same random inputs, for float, bf16 and f16, within tolerance<T>() (the saved norms and
// log-sum-exps within the float tolerance): attention-row widths (197, 257, 577), the embedding widths,
// odd widths, rows wider than the register cache, masked (-inf) entries, large magnitudes, zero rows.
// Outputs are poisoned with NaN bytes first, so an element the kernel never writes fails.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/cross_entropy.hpp"
#include "evaclip/ops/cpu/l2_normalize.hpp"
#include "evaclip/ops/cpu/softmax.hpp"
#include "evaclip/ops/cuda/cross_entropy.cuh"
#include "evaclip/ops/cuda/l2_normalize.cuh"
#include "evaclip/ops/cuda/softmax.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;
namespace ref = evaclip::cpu;
using namespace evaclip::gpu_test;

namespace {

std::string describe(std::int64_t R, std::int64_t C, const char* what) {
  std::ostringstream os;
  os << what << " R " << R << " C " << C;
  return os.str();
}

// Values N(offset, std²) in dtype dt; every `mask_every`-th element of each row (from its row index on)
// set to -inf when mask_every > 0.
Tensor host_values(std::int64_t R, std::int64_t C, DType dt, std::uint64_t seed, double std, double offset = 0,
                   std::int64_t mask_every = 0) {
  std::vector<double> v = host_randn({R * C}, DType::f64, seed, std).to_vector();
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t c = 0; c < C; ++c) {
      double& x = v[std::size_t(r * C + c)];
      x += offset;
      if (mask_every > 0 && (c + r) % mask_every == 0) x = -INFINITY;
    }
  return Tensor::from<double>({R * C}, dt, v);
}

// Attention rows (B/16: 197, L/14: 257, L/14-336: 577 tokens), the text length 77, the embedding widths
// 512, 768, 1024, odd widths, and wide rows up to past the register cache (4099 odd, 20000).
const std::vector<std::int64_t> kWidths = {8, 33, 77, 197, 257, 577, 512, 768, 1024, 1792, 2730, 4096, 4099, 20000};

std::int64_t rows_for(std::int64_t C) { return C <= 1024 ? 197 * 8 : 37; }

template <class T>
void check_softmax(std::int64_t R, std::int64_t C, const Tensor& x, const char* what) {
  const DType dt = dtype_of<T>();
  Tensor want = Tensor::empty({R * C}, dt);
  ref::softmax_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), R, C);
  const Tensor dx = x.to(Device::cuda), got = poisoned({R * C}, dt);
  gpu::softmax_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), R, C);
  expect_synced();
  EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << describe(R, C, what);
}

template <class T>
void check_l2(std::int64_t R, std::int64_t C, const Tensor& x, double eps, const char* what) {
  const DType dt = dtype_of<T>();
  Tensor want = Tensor::empty({R * C}, dt), norm_want = Tensor::empty({R}, DType::f32);
  ref::l2_normalize_forward<float, T>(ref::Backend{}, want.data<T>(), norm_want.data<float>(), x.data<T>(), R, C, eps);
  const Tensor dx = x.to(Device::cuda), got = poisoned({R * C}, dt), norm = poisoned({R}, DType::f32);
  gpu::l2_normalize_forward<float, T>(gpu::Backend{}, got.data<T>(), norm.data<float>(), dx.data<T>(), R, C, eps);
  expect_synced();
  EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << describe(R, C, what) << ": y";
  EXPECT_TRUE(close_to_reference(norm_want, norm, tolerance<float>())) << describe(R, C, what) << ": norm";
}

template <class T>
void check_cross_entropy(std::int64_t N, std::int64_t C, const Tensor& logits, const char* what) {
  const DType dt = dtype_of<T>();
  std::vector<double> lab(static_cast<std::size_t>(N));
  for (std::int64_t r = 0; r < N; ++r) lab[std::size_t(r)] = double((r * 7919 + 13) % C);
  const Tensor labels = Tensor::from<double>({N}, DType::i64, lab);
  Tensor want = Tensor::empty({1}, dt), lse_want = Tensor::empty({N}, DType::f32);
  ref::cross_entropy_forward<float, T>(ref::Backend{}, want.data<T>(), lse_want.data<float>(), logits.data<T>(),
                                       labels.data<std::int64_t>(), N, C);
  const Tensor dl = logits.to(Device::cuda), dlab = labels.to(Device::cuda);
  const Tensor got = poisoned({1}, dt), lse = poisoned({N}, DType::f32);
  gpu::cross_entropy_forward<float, T>(gpu::Backend{}, got.data<T>(), lse.data<float>(), dl.data<T>(),
                                       dlab.data<std::int64_t>(), N, C);
  expect_synced();
  EXPECT_TRUE(close_to_reference(want, got, tolerance<T>())) << describe(N, C, what) << ": loss";
  EXPECT_TRUE(close_to_reference(lse_want, lse, tolerance<float>())) << describe(N, C, what) << ": lse";
}

template <class T>
class CudaSoftmax : public GpuTest {};
TYPED_TEST_SUITE(CudaSoftmax, StorageTypes);
template <class T>
class CudaL2Normalize : public GpuTest {};
TYPED_TEST_SUITE(CudaL2Normalize, StorageTypes);
template <class T>
class CudaCrossEntropy : public GpuTest {};
TYPED_TEST_SUITE(CudaCrossEntropy, StorageTypes);

TYPED_TEST(CudaSoftmax, MatchesCpu) {
  const DType dt = dtype_of<TypeParam>();
  for (const std::int64_t C : kWidths)
    for (const std::int64_t R : {std::int64_t(1), std::int64_t(3), rows_for(C)})
      check_softmax<TypeParam>(R, C, host_values(R, C, dt, std::uint64_t(R * 31 + C), 3.0), "softmax");
}

// Masked positions (-inf, as attention masks write them) get 0; a row of only -inf is NaN in both.
TYPED_TEST(CudaSoftmax, MaskedEntries) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (const std::int64_t C : {std::int64_t(33), std::int64_t(197), std::int64_t(1792), std::int64_t(4099)})
    check_softmax<T>(197, C, host_values(197, C, dt, std::uint64_t(C), 3.0, 0.0, 3), "softmax masked");
  const std::int64_t R = 4, C = 77;
  const Tensor x = host_values(R, C, dt, 5, 1.0, 0.0, 1);  // every entry -inf
  const Tensor dx = x.to(Device::cuda), got = poisoned({R * C}, dt);
  gpu::softmax_forward<float, T>(gpu::Backend{}, got.data<T>(), dx.data<T>(), R, C);
  expect_synced();
  Tensor want = Tensor::empty({R * C}, dt);
  ref::softmax_forward<float, T>(ref::Backend{}, want.data<T>(), x.data<T>(), R, C);
  const auto w = want.to_vector(), g = got.to_vector();
  for (std::size_t i = 0; i < w.size(); ++i) EXPECT_EQ(std::isnan(w[i]), std::isnan(g[i])) << "element " << i;
}

// Logits far from 0 with a wide spread: exp(x) alone overflows; the row max keeps it finite.
TYPED_TEST(CudaSoftmax, LargeMagnitudes) {
  const DType dt = dtype_of<TypeParam>();
  const double offset = dt == DType::f16 ? 2.0e4 : 5.0e4;  // f16 ends at 65504
  for (const std::int64_t C : {std::int64_t(257), std::int64_t(2730)})
    check_softmax<TypeParam>(37, C, host_values(37, C, dt, std::uint64_t(C) + 9, 30.0, offset), "softmax large");
}

TYPED_TEST(CudaL2Normalize, MatchesCpu) {
  const DType dt = dtype_of<TypeParam>();
  for (const std::int64_t C : kWidths)
    for (const std::int64_t R : {std::int64_t(1), std::int64_t(3), rows_for(C)})
      check_l2<TypeParam>(R, C, host_values(R, C, dt, std::uint64_t(R * 17 + C), 2.0, 0.5), 1e-12, "l2_normalize");
}

// Rows shorter than eps are divided by eps, as torch's clamp_min: zeros stay zero, tiny rows scale by 1/eps.
TYPED_TEST(CudaL2Normalize, RowsBelowEps) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const std::int64_t R = 3, C = 768;
  std::vector<double> v = host_randn({R * C}, DType::f64, 3, 1e-4).to_vector();
  for (std::int64_t c = 0; c < C; ++c) v[std::size_t(c)] = 0.0;  // row 0 all zeros
  check_l2<T>(R, C, Tensor::from<double>({R * C}, dt, v), 1e-2, "l2_normalize below eps");
}

TYPED_TEST(CudaCrossEntropy, MatchesCpu) {
  const DType dt = dtype_of<TypeParam>();
  // Contrastive logits: N images against N texts (C = N), and class logits of several widths.
  for (const std::int64_t C : {std::int64_t(8), std::int64_t(33), std::int64_t(512), std::int64_t(1000),
                               std::int64_t(2730), std::int64_t(8192), std::int64_t(20000)})
    for (const std::int64_t N : {std::int64_t(1), std::int64_t(3), C <= 1024 ? std::int64_t(197 * 8) : std::int64_t(64)})
      check_cross_entropy<TypeParam>(N, C, host_values(N, C, dt, std::uint64_t(N * 3 + C), 4.0), "cross_entropy");
}

// Logits around 100 (CLIP's logit scale times cosine similarities) with a wide spread.
TYPED_TEST(CudaCrossEntropy, LargeLogits) {
  const DType dt = dtype_of<TypeParam>();
  check_cross_entropy<TypeParam>(256, 256, host_values(256, 256, dt, 77, 30.0, 100.0), "cross_entropy large");
}

}  // namespace
