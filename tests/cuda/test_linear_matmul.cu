// Tests cuda::linear_forward (ops/cuda/linear.cuh) and cuda::matmul_forward (ops/cuda/matmul.cuh) against
// their CPU references on the same random inputs: the EVA02-CLIP-B/16 and L/14 projections (tokens 197 /
// 257 x batch 8; qkv, out-proj, SwiGLU up and down), the attention-shaped batched products, odd sizes,
// every transpose, a broadcast B, and the not-yet-built backwards.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/linear.hpp"
#include "evaclip/ops/cpu/matmul.hpp"
#include "evaclip/ops/cuda/linear.cuh"
#include "evaclip/ops/cuda/matmul.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
using namespace evaclip::gpu_test;

namespace {

template <class T>
::testing::AssertionResult linear_matches(std::int64_t R, std::int64_t K, std::int64_t N, bool bias,
                                          std::uint64_t seed) {
  const DType dt = dtype_of<T>();
  const Tensor x = host_randn({R, K}, dt, seed), w = host_randn({N, K}, dt, seed + 1, 0.05);
  const Tensor b = host_randn({N}, dt, seed + 2);
  Tensor ref = Tensor::empty({R, N}, dt);
  cpu::linear_forward<float, T>(cpu::Backend{}, ref.data<T>(), x.data<T>(), w.data<T>(), bias ? b.data<T>() : nullptr,
                                R, K, N);
  const Tensor dx = x.to(Device::cuda), dw = w.to(Device::cuda), db = b.to(Device::cuda);
  Tensor y = Tensor::empty({R, N}, dt, Device::cuda);
  cuda::linear_forward<float, T>(cuda::Backend{}, y.data<T>(), dx.data<T>(), dw.data<T>(),
                                 bias ? db.data<T>() : nullptr, R, K, N);
  return close_to_reference(ref, y, tolerance<T>());
}

template <class T>
::testing::AssertionResult matmul_matches(const cpu::MatmulDims& d, std::uint64_t seed) {
  const DType dt = dtype_of<T>();
  const Tensor a = host_randn({d.batch, d.trans_a ? d.k : d.m, d.trans_a ? d.m : d.k}, dt, seed);
  const Tensor b =
      host_randn({d.broadcast_b ? 1 : d.batch, d.trans_b ? d.n : d.k, d.trans_b ? d.k : d.n}, dt, seed + 1);
  Tensor ref = Tensor::empty({d.batch, d.m, d.n}, dt);
  cpu::matmul_forward<float, T>(cpu::Backend{}, ref.data<T>(), a.data<T>(), b.data<T>(), d);
  const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda);
  Tensor c = Tensor::empty({d.batch, d.m, d.n}, dt, Device::cuda);
  cuda::matmul_forward<float, T>(cuda::Backend{}, c.data<T>(), da.data<T>(), db.data<T>(), d);
  return close_to_reference(ref, c, tolerance<T>());
}

cpu::MatmulDims dims(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb, bool bcast) {
  cpu::MatmulDims d;
  d.batch = batch, d.m = m, d.n = n, d.k = k, d.trans_a = ta, d.trans_b = tb, d.broadcast_b = bcast;
  return d;
}

template <class T>
class LinearMatmul : public GpuTest {};
TYPED_TEST_SUITE(LinearMatmul, StorageTypes);

}  // namespace

TYPED_TEST(LinearMatmul, LinearOddShapes) {
  using T = TypeParam;
  const std::int64_t rkn[][3] = {{1, 5, 3}, {3, 1, 7}, {2, 7, 1}, {13, 33, 17}, {77, 65, 129}};
  std::uint64_t seed = 10;
  for (const auto& z : rkn)
    for (bool bias : {true, false})
      EXPECT_TRUE(linear_matches<T>(z[0], z[1], z[2], bias, seed += 3))
          << "R=" << z[0] << " K=" << z[1] << " N=" << z[2] << " bias=" << bias;
}

// R = tokens x batch 8; (K, N) = qkv, attention out-proj, SwiGLU w1/w2 (up), w3 (down).
TYPED_TEST(LinearMatmul, LinearModelShapes) {
  using T = TypeParam;
  const std::int64_t rkn[][3] = {
      {197 * 8, 768, 3 * 768},   {197 * 8, 768, 768},   {197 * 8, 768, 2048},  {197 * 8, 2048, 768},   // B/16
      {257 * 8, 1024, 3 * 1024}, {257 * 8, 1024, 1024}, {257 * 8, 1024, 2730}, {257 * 8, 2730, 1024},  // L/14
      {77 * 8, 512, 512},                                                                              // B text width
  };
  std::uint64_t seed = 100;
  for (const auto& z : rkn)
    EXPECT_TRUE(linear_matches<T>(z[0], z[1], z[2], true, seed += 3)) << "R=" << z[0] << " K=" << z[1] << " N=" << z[2];
  EXPECT_TRUE(linear_matches<T>(257 * 8, 1024, 2730, false, 200)) << "no bias";
}

TYPED_TEST(LinearMatmul, MatmulOddShapesEveryTransposeAndBroadcast) {
  using T = TypeParam;
  std::uint64_t seed = 300;
  for (int t = 0; t < 4; ++t)
    for (bool bcast : {false, true})
      for (std::int64_t batch : {1, 3}) {
        EXPECT_TRUE(matmul_matches<T>(dims(batch, 5, 3, 7, t & 1, t & 2, bcast), seed += 3))
            << "t=" << t << " bcast=" << bcast << " batch=" << batch;
        EXPECT_TRUE(matmul_matches<T>(dims(batch, 1, 9, 2, t & 1, t & 2, bcast), seed += 3))
            << "m=1 t=" << t << " bcast=" << bcast << " batch=" << batch;
      }
}

// Batch = images x heads; S = q k^T (T, T, hd 64) and O = P v (T, 64, T), for B/16 (12 heads) and L/14 (16).
TYPED_TEST(LinearMatmul, MatmulAttentionShapes) {
  using T = TypeParam;
  std::uint64_t seed = 400;
  for (const auto& [tokens, heads] : {std::pair<std::int64_t, std::int64_t>{197, 12}, {257, 16}}) {
    EXPECT_TRUE(matmul_matches<T>(dims(8 * heads, tokens, tokens, 64, false, true, false), seed += 3))
        << "q k^T, tokens " << tokens;
    EXPECT_TRUE(matmul_matches<T>(dims(8 * heads, tokens, 64, tokens, false, false, false), seed += 3))
        << "P v, tokens " << tokens;
  }
  // A batch of token rows against one shared matrix (e.g. features times a projection).
  EXPECT_TRUE(matmul_matches<T>(dims(8, 197, 512, 768, false, false, true), seed += 3)) << "broadcast B";
}

TEST(LinearMatmulArguments, ErrorsNameTheOp) {
  const float x = 0;
  float y = 0;
  auto what = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  // Argument checks and not-built backwards fail before any CUDA call: no device needed.
  EXPECT_NE(what([&] {
              cuda::linear_forward<float, float>(cuda::Backend{}, &y, nullptr, &x, &x, 2, 3, 4);
            }).find("linear_forward: null A"),
            std::string::npos);
  EXPECT_NE(what([&] {
              cuda::matmul_forward<float, float>(cuda::Backend{}, &y, &x, &x, dims(1, -2, 3, 4, 0, 0, 0));
            }).find("matmul_forward: negative size"),
            std::string::npos);
  EXPECT_NE(what([&] {
              cuda::linear_backward<float, float>(cuda::Backend{}, &y, &y, &y, &x, &x, &x, 2, 3, 4);
            }).find("linear_backward: the CUDA backward is not built"),
            std::string::npos);
  EXPECT_NE(what([&] {
              cuda::matmul_backward<float, float>(cuda::Backend{}, &y, &y, &x, &x, &x, dims(1, 2, 3, 4, 0, 0, 0));
            }).find("matmul_backward: the CUDA backward is not built"),
            std::string::npos);
}
