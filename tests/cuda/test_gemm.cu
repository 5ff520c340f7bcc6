// Tests cuda::gemm and cuda::gemm_epilogue (ops/cuda/gemm.cuh) against cpu::gemm on the same random inputs:
// every transpose combination, odd sizes, leading dimensions above tight, strided and broadcast batches,
// misaligned views, alpha/beta, the epilogues, the plan cache, the model's GEMM shapes, and the argument
// checks. fp32 within 1e-5 (TF32 within 2e-3), bf16/f16 within 1e-2, all relative to max |reference|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cuda/gemm.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
using namespace evaclip::gpu_test;

namespace {

// TF32 rounds each product's operands to 10 mantissa bits (relative 2^-11 each): over random-sign sums
// the error stays a few 1e-4 of max |result|, so 2e-3 leaves margin and still catches a wrong product.
constexpr double kTf32Tolerance = 2e-3;

// Elements each operand spans in memory, leading dimensions and batch strides included.
struct Extents {
  std::int64_t a, b, c;
};
Extents extents(const cpu::GemmShape& s) {
  const std::int64_t ar = s.trans_a ? s.k : s.m, ac = s.trans_a ? s.m : s.k;
  const std::int64_t br = s.trans_b ? s.n : s.k, bc = s.trans_b ? s.k : s.n;
  const std::int64_t lda = s.lda ? s.lda : ac, ldb = s.ldb ? s.ldb : bc, ldc = s.ldc ? s.ldc : s.n;
  const std::int64_t more = s.batch - 1;
  return {more * s.stride_a + ar * lda, more * s.stride_b + br * ldb, more * s.stride_c + s.m * ldc};
}

cpu::GemmShape shape(std::int64_t m, std::int64_t n, std::int64_t k, bool ta, bool tb) {
  cpu::GemmShape s;
  s.m = m, s.n = n, s.k = k, s.trans_a = ta, s.trans_b = tb;
  return s;
}

// Runs cuda::gemm and cpu::gemm on the same random A, B, C (whole buffers, padding included, are
// compared: elements outside the product must come back untouched).
template <class T>
::testing::AssertionResult gemm_matches(const cpu::GemmShape& s, double alpha, double beta, std::uint64_t seed,
                                        bool tf32 = false) {
  const DType dt = dtype_of<T>();
  const Extents e = extents(s);
  const Tensor a = host_randn({e.a}, dt, seed), b = host_randn({e.b}, dt, seed + 1),
               c = host_randn({e.c}, dt, seed + 2);
  Tensor ref = c.clone();
  cpu::gemm(cpu::Backend{}, s, alpha, a.data<T>(), b.data<T>(), beta, ref.data<T>());
  const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda);
  Tensor dc = c.to(Device::cuda);
  cuda::Backend be;
  be.tf32 = tf32;
  cuda::gemm(be, s, alpha, da.data<T>(), db.data<T>(), beta, dc.data<T>());
  return close_to_reference(ref, dc, tf32 ? kTf32Tolerance : tolerance<T>());
}

// Host reference of gemm_epilogue: C = act(op(A) op(B) + bias) in double from the stored operands.
template <class T>
Tensor epilogue_reference(const cpu::GemmShape& s, const Tensor& a, const Tensor& b, const Tensor& bias, bool gelu,
                          const Tensor& c_in) {
  const auto av = a.to_vector(), bv = b.to_vector(), biasv = bias.to_vector();
  auto cv = c_in.to_vector();
  const std::int64_t lda = s.lda ? s.lda : (s.trans_a ? s.m : s.k), ldb = s.ldb ? s.ldb : (s.trans_b ? s.k : s.n);
  const std::int64_t ldc = s.ldc ? s.ldc : s.n;
  for (std::int64_t p = 0; p < s.batch; ++p)
    for (std::int64_t i = 0; i < s.m; ++i)
      for (std::int64_t j = 0; j < s.n; ++j) {
        double v = biasv[std::size_t(j)];
        for (std::int64_t l = 0; l < s.k; ++l) {
          const double x = av[std::size_t(p * s.stride_a + (s.trans_a ? l * lda + i : i * lda + l))];
          const double y = bv[std::size_t(p * s.stride_b + (s.trans_b ? j * ldb + l : l * ldb + j))];
          v += x * y;
        }
        if (gelu) v = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
        cv[std::size_t(p * s.stride_c + i * ldc + j)] = v;
      }
  return Tensor::from(c_in.shape(), DType::f64, cv);
}

template <class T>
class GemmTyped : public GpuTest {};
TYPED_TEST_SUITE(GemmTyped, StorageTypes);

class Gemm : public GpuTest {};

}  // namespace

TYPED_TEST(GemmTyped, TinyAndOddShapesEveryTranspose) {
  using T = TypeParam;
  const std::int64_t sizes[][3] = {{1, 3, 5}, {3, 1, 5}, {5, 3, 1}, {1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {65, 33, 127}};
  std::uint64_t seed = 100;
  for (const auto& z : sizes)
    for (int t = 0; t < 4; ++t) {
      const auto s = shape(z[0], z[1], z[2], t & 1, t & 2);
      EXPECT_TRUE(gemm_matches<T>(s, 1.0, 0.0, seed += 3))
          << "m=" << z[0] << " n=" << z[1] << " k=" << z[2] << " trans_a=" << s.trans_a << " trans_b=" << s.trans_b;
    }
}

TYPED_TEST(GemmTyped, AlphaAndBeta) {
  using T = TypeParam;
  const double ab[][2] = {{0.5, -1.5}, {2.0, 1.0}, {-1.0, 0.25}, {0.0, 2.0}};
  std::uint64_t seed = 200;
  for (const auto& p : ab)
    for (int t = 0; t < 4; ++t) {
      const auto s = shape(37, 29, 41, t & 1, t & 2);
      EXPECT_TRUE(gemm_matches<T>(s, p[0], p[1], seed += 3)) << "alpha=" << p[0] << " beta=" << p[1] << " t=" << t;
    }
}

TYPED_TEST(GemmTyped, LeadingDimensionsAboveTight) {
  using T = TypeParam;
  std::uint64_t seed = 300;
  for (int t = 0; t < 4; ++t) {
    auto s = shape(19, 23, 13, t & 1, t & 2);
    s.lda = (s.trans_a ? s.m : s.k) + 3;
    s.ldb = (s.trans_b ? s.k : s.n) + 5;
    s.ldc = s.n + 2;
    EXPECT_TRUE(gemm_matches<T>(s, 1.0, 0.5, seed += 3)) << "t=" << t;
  }
}

TYPED_TEST(GemmTyped, StridedAndBroadcastBatches) {
  using T = TypeParam;
  std::uint64_t seed = 400;
  for (int t = 0; t < 4; ++t)
    for (int bcast = 0; bcast < 3; ++bcast) {  // 0: none, 1: A shared, 2: B shared
      auto s = shape(11, 9, 14, t & 1, t & 2);
      s.batch = 5;
      s.lda = (s.trans_a ? s.m : s.k) + 1;
      s.ldc = s.n + 3;
      // Padded strides (odd in elements, so batch items are misaligned too).
      s.stride_a = bcast == 1 ? 0 : (s.trans_a ? s.k : s.m) * s.lda + 7;
      s.stride_b = bcast == 2 ? 0 : s.k * s.n + 1;
      s.stride_c = s.m * s.ldc + 5;
      EXPECT_TRUE(gemm_matches<T>(s, 1.0, bcast == 0 ? 0.0 : -0.5, seed += 3)) << "t=" << t << " bcast=" << bcast;
    }
}

TYPED_TEST(GemmTyped, MisalignedViews) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  for (int off = 1; off <= 3; ++off) {
    const auto s = shape(24, 40, 32, false, true);
    const Extents e = extents(s);
    const Tensor a = host_randn({e.a + off}, dt, 500 + off), b = host_randn({e.b + off}, dt, 510 + off);
    const Tensor c = host_randn({e.c + off}, dt, 520 + off);
    Tensor ref = c.clone();
    cpu::gemm(cpu::Backend{}, s, 1.0, a.data<T>() + off, b.data<T>() + off, 1.0, ref.data<T>() + off);
    const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda);
    Tensor dc = c.to(Device::cuda);
    cuda::gemm(cuda::Backend{}, s, 1.0, da.data<T>() + off, db.data<T>() + off, 1.0, dc.data<T>() + off);
    EXPECT_TRUE(close_to_reference(ref, dc, tolerance<T>())) << "offset " << off << " elements";
  }
}

TYPED_TEST(GemmTyped, BetaZeroNeverReadsC) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const auto s = shape(31, 47, 29, true, false);
  const Tensor a = host_randn({s.k * s.m}, dt, 600), b = host_randn({s.k * s.n}, dt, 601);
  Tensor ref = Tensor::zeros({s.m * s.n}, dt);
  cpu::gemm(cpu::Backend{}, s, 1.5, a.data<T>(), b.data<T>(), 0.0, ref.data<T>());
  Tensor nan = Tensor::full({s.m * s.n}, dt, std::numeric_limits<double>::quiet_NaN());
  const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda);
  Tensor dc = nan.to(Device::cuda);
  cuda::gemm(cuda::Backend{}, s, 1.5, da.data<T>(), db.data<T>(), 0.0, dc.data<T>());
  EXPECT_TRUE(close_to_reference(ref, dc, tolerance<T>()));
}

TYPED_TEST(GemmTyped, EmptyReductionScalesC) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  auto s = shape(6, 5, 0, false, false);
  s.batch = 2, s.stride_c = 30;
  const Tensor c = host_randn({60}, dt, 700), bias = host_randn({5}, dt, 701);
  const auto cv = c.to_vector(), bv = bias.to_vector();
  std::vector<double> scaled(60), biased(60);
  for (std::size_t i = 0; i < 60; ++i) scaled[i] = -2.0 * cv[i], biased[i] = bv[i % 5];
  Tensor dc = c.to(Device::cuda);
  // k = 0: op(A) op(B) is empty, so C = beta C; A and B are never read (null is fine).
  cuda::gemm(cuda::Backend{}, s, 1.0, static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), -2.0,
             dc.data<T>());
  EXPECT_TRUE(close_to_reference(Tensor::from({60}, DType::f64, scaled), dc, tolerance<T>()));
  const Tensor dbias = bias.to(Device::cuda);
  cuda::gemm_epilogue(cuda::Backend{}, s, static_cast<const T*>(nullptr), static_cast<const T*>(nullptr),
                      dbias.data<T>(), cuda::Epilogue::bias, dc.data<T>());
  EXPECT_TRUE(close_to_reference(Tensor::from({60}, DType::f64, biased), dc, tolerance<T>()));
}

TYPED_TEST(GemmTyped, BiasEpilogueMatchesCpu) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  std::uint64_t seed = 800;
  for (int t = 0; t < 4; ++t)
    for (std::int64_t batch : {1, 3}) {
      auto s = shape(21, 19, 37, t & 1, t & 2);
      s.batch = batch;
      s.stride_a = s.m * s.k, s.stride_b = 0, s.stride_c = s.m * s.n;  // B shared, as a weight would be
      const Extents e = extents(s);
      const Tensor a = host_randn({e.a}, dt, seed += 3), b = host_randn({e.b}, dt, seed + 1);
      const Tensor bias = host_randn({s.n}, dt, seed + 2);
      // The CPU reference's way: C starts as the bias rows, beta = 1.
      Tensor ref = Tensor::empty({e.c}, dt);
      for (std::int64_t r = 0; r < batch * s.m; ++r)
        for (std::int64_t j = 0; j < s.n; ++j) ref.data<T>()[r * s.n + j] = bias.data<T>()[j];
      cpu::gemm(cpu::Backend{}, s, 1.0, a.data<T>(), b.data<T>(), 1.0, ref.data<T>());
      const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda), dbias = bias.to(Device::cuda);
      Tensor dc = Tensor::empty({e.c}, dt, Device::cuda);
      cuda::gemm_epilogue(cuda::Backend{}, s, da.data<T>(), db.data<T>(), dbias.data<T>(), cuda::Epilogue::bias,
                          dc.data<T>());
      EXPECT_TRUE(close_to_reference(ref, dc, tolerance<T>())) << "t=" << t << " batch=" << batch;
    }
}

TYPED_TEST(GemmTyped, BiasGeluEpilogueIsTheTanhApproximation) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const auto s = shape(45, 38, 64, false, true);
  const Tensor a = host_randn({s.m * s.k}, dt, 900, 0.2), b = host_randn({s.n * s.k}, dt, 901, 0.2);
  const Tensor bias = host_randn({s.n}, dt, 902);
  const Tensor c0 = Tensor::zeros({s.m * s.n}, dt);
  const Tensor ref = epilogue_reference<T>(s, a, b, bias, true, c0);
  const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda), dbias = bias.to(Device::cuda);
  Tensor dc = Tensor::empty({s.m * s.n}, dt, Device::cuda);
  cuda::gemm_epilogue(cuda::Backend{}, s, da.data<T>(), db.data<T>(), dbias.data<T>(), cuda::Epilogue::bias_gelu,
                      dc.data<T>());
  // cuBLASLt does not document how accurately it evaluates tanh: 1e-3 of max |ref| for every type. A
  // missing GELU (bias only) misses by the negative half, far more than that.
  EXPECT_TRUE(close_to_reference(ref, dc, std::max(1e-3, tolerance<T>())));
}

TYPED_TEST(GemmTyped, CachedPlanTakesEachCallsBias) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  const auto s = shape(16, 24, 8, false, true);
  const Tensor a = host_randn({s.m * s.k}, dt, 1000), b = host_randn({s.n * s.k}, dt, 1001);
  const Tensor c0 = Tensor::zeros({s.m * s.n}, dt);
  const Tensor da = a.to(Device::cuda), db = b.to(Device::cuda);
  for (std::uint64_t round = 0; round < 3; ++round) {  // same shape and alignment: one plan, three biases
    const Tensor bias = host_randn({s.n}, dt, 1010 + round);
    const Tensor dbias = bias.to(Device::cuda);
    Tensor dc = Tensor::empty({s.m * s.n}, dt, Device::cuda);
    cuda::gemm_epilogue(cuda::Backend{}, s, da.data<T>(), db.data<T>(), dbias.data<T>(), cuda::Epilogue::bias,
                        dc.data<T>());
    EXPECT_TRUE(close_to_reference(epilogue_reference<T>(s, a, b, bias, false, c0), dc, tolerance<T>()))
        << "round " << round;
  }
}

// The model's GEMMs: B/16 qkv (197 tokens x 8, 768 -> 3*768), B/16 SwiGLU (768 -> 2048),
// L/14 SwiGLU down (257 x 8, 2730 -> 1024), as x (M, K) W^T with W (N, K).
TYPED_TEST(GemmTyped, ModelShapes) {
  using T = TypeParam;
  const std::int64_t mnk[][3] = {{197 * 8, 3 * 768, 768}, {197 * 8, 2048, 768}, {257 * 8, 1024, 2730}};
  std::uint64_t seed = 1100;
  for (const auto& z : mnk)
    EXPECT_TRUE(gemm_matches<T>(shape(z[0], z[1], z[2], false, true), 1.0, 0.0, seed += 3))
        << "m=" << z[0] << " n=" << z[1] << " k=" << z[2];
}

TEST_F(Gemm, Tf32ModelShapesWithinTf32Tolerance) {
  const std::int64_t mnk[][3] = {{197 * 8, 3 * 768, 768}, {257 * 8, 1024, 2730}, {37, 29, 41}};
  std::uint64_t seed = 1200;
  for (const auto& z : mnk)
    for (int t = 0; t < 4; ++t)
      EXPECT_TRUE(gemm_matches<float>(shape(z[0], z[1], z[2], t & 1, t & 2), 1.0, 0.0, seed += 3, true))
          << "m=" << z[0] << " n=" << z[1] << " k=" << z[2] << " t=" << t;
}

// ---- argument checks: they fail before any CUDA call, so these run without a device ----

namespace {
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(GemmArguments, BadShapesAndNullPointersNameTheOp) {
  float x = 0;
  const float* p = &x;
  float* q = &x;
  cuda::Backend be;
  auto s = shape(2, 3, 4, false, false);
  EXPECT_NE(
      error_of([&] { cuda::gemm(be, shape(-1, 3, 4, false, false), 1.0, p, p, 0.0, q); }).find("gemm: negative size"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { cuda::gemm(be, s, 1.0, static_cast<const float*>(nullptr), p, 0.0, q); }).find("gemm: null A"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { cuda::gemm(be, s, 1.0, p, static_cast<const float*>(nullptr), 0.0, q); }).find("gemm: null B"),
      std::string::npos);
  EXPECT_NE(error_of([&] { cuda::gemm(be, s, 1.0, p, p, 0.0, static_cast<float*>(nullptr)); }).find("gemm: null C"),
            std::string::npos);
  auto short_ld = s;
  short_ld.lda = 3;  // A is (2, 4): rows of 4
  EXPECT_NE(error_of([&] { cuda::gemm(be, short_ld, 1.0, p, p, 0.0, q); }).find("gemm: leading dimensions lda=3"),
            std::string::npos);
  auto shared_c = s;
  shared_c.batch = 2, shared_c.stride_a = 8, shared_c.stride_b = 12, shared_c.stride_c = 0;
  EXPECT_NE(error_of([&] { cuda::gemm(be, shared_c, 1.0, p, p, 0.0, q); }).find("gemm: stride_c 0"), std::string::npos);
  EXPECT_NE(error_of([&] {
              cuda::gemm_epilogue(be, s, p, p, static_cast<const float*>(nullptr), cuda::Epilogue::bias, q);
            }).find("gemm_epilogue: the bias epilogue needs a bias"),
            std::string::npos);
}

// ---- the row-major -> cuBLASLt mapping, checked on the host: no device needed ----

namespace {
// cuBLASLt's definition on column-major operands as described by lt_problem:
// D[i + j ldc] = alpha sum_l op(A)(i, l) op(B)(l, j) + beta C, per batch item. Also checks each layout is
// consistent with its op (an N operand is stored (m, k) / (k, n); a T operand the other way round) and
// that every leading dimension covers its stored rows, as cuBLASLt requires.
void lt_reference(const cuda::detail::LtProblem& p, std::int64_t batch, float alpha, const float* a, const float* b,
                  float beta, float* c) {
  ASSERT_EQ(p.a.trans ? p.a.cols : p.a.rows, p.m);
  ASSERT_EQ(p.a.trans ? p.a.rows : p.a.cols, p.k);
  ASSERT_EQ(p.b.trans ? p.b.cols : p.b.rows, p.k);
  ASSERT_EQ(p.b.trans ? p.b.rows : p.b.cols, p.n);
  ASSERT_EQ(p.c.rows, p.m);
  ASSERT_EQ(p.c.cols, p.n);
  ASSERT_GE(p.a.ld, p.a.rows);
  ASSERT_GE(p.b.ld, p.b.rows);
  ASSERT_GE(p.c.ld, p.c.rows);
  for (std::int64_t q = 0; q < batch; ++q)
    for (std::int64_t j = 0; j < p.n; ++j)
      for (std::int64_t i = 0; i < p.m; ++i) {
        double v = 0;
        for (std::int64_t l = 0; l < p.k; ++l) {
          const double x = a[q * p.a.stride + (p.a.trans ? l + i * p.a.ld : i + l * p.a.ld)];
          const double y = b[q * p.b.stride + (p.b.trans ? j + l * p.b.ld : l + j * p.b.ld)];
          v += x * y;
        }
        float& d = c[q * p.c.stride + i + j * p.c.ld];
        d = float(alpha * v + (beta == 0 ? 0.0 : beta * double(d)));
      }
}
}  // namespace

TEST(GemmMapping, RowMajorShapesMapOntoCublasLtColumnMajor) {
  std::uint64_t seed = 2000;
  for (int t = 0; t < 4; ++t)
    for (int variant = 0; variant < 3; ++variant) {  // tight; padded leading dimensions; padded batch + broadcast
      auto s = shape(7, 5, 3, t & 1, t & 2);
      if (variant >= 1) {
        s.lda = (s.trans_a ? s.m : s.k) + 2;
        s.ldb = (s.trans_b ? s.k : s.n) + 3;
        s.ldc = s.n + 1;
      }
      if (variant == 2) {
        s.batch = 3;
        s.stride_a = (s.trans_a ? s.k : s.m) * s.lda + 1;
        s.stride_b = 0;
        s.stride_c = s.m * s.ldc + 2;
      }
      const Extents e = extents(s);
      const Tensor a = host_randn({e.a}, DType::f32, seed += 3), b = host_randn({e.b}, DType::f32, seed + 1);
      const Tensor c = host_randn({e.c}, DType::f32, seed + 2);
      Tensor ref = c.clone(), got = c.clone();
      cpu::gemm(cpu::Backend{}, s, 0.75, a.data<float>(), b.data<float>(), -0.5, ref.data<float>());
      const auto key = cuda::detail::lt_key<float>(s, false, cuda::Epilogue::none, a.data<float>(), b.data<float>(),
                                                   got.data<float>(), nullptr);
      // cuBLASLt's A is our B and its B our A (cublasLtMatmul is called with b, then a).
      lt_reference(cuda::detail::lt_problem(key), s.batch, 0.75f, b.data<float>(), a.data<float>(), -0.5f,
                   got.data<float>());
      EXPECT_TRUE(close_to_reference(ref, got, 1e-6)) << "t=" << t << " variant=" << variant;
    }
}
