// Tests matmul: every transpose combination, batched and with a shared 2-D b, against the direct formula
// and finite differences; reduced precision; errors.
#include "common/test_util.hpp"
#include "evaclip/ops/matmul.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// Stored shape of an (r, c) operand over batch dims, transposed when asked.
Shape stored(Shape batch, std::int64_t r, std::int64_t c, bool trans) {
  batch.push_back(trans ? c : r);
  batch.push_back(trans ? r : c);
  return batch;
}

// Direct formula for a (2, M, K)-shaped product, b batched or 2-D.
Tensor reference(const Tensor& a, const Tensor& b, bool ta, bool tb, int M, int N, int K) {
  Tensor c = Tensor::empty({2, M, N}, DType::f64);
  auto av = a.view<double>(), bv = b.view<double>(), cv = c.view<double>();
  const bool shared = b.rank() == 2;
  for (int i = 0; i < 2; ++i)
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double s = 0;
        for (int k = 0; k < K; ++k) {
          const double x = ta ? av(i, k, m) : av(i, m, k);
          const double y = shared ? (tb ? bv(n, k) : bv(k, n)) : (tb ? bv(i, n, k) : bv(i, k, n));
          s += x * y;
        }
        cv(i, m, n) = s;
      }
  return c;
}
}  // namespace

TEST(Matmul, ForwardMatchesFormulaForEveryTranspose) {
  const int M = 3, N = 4, K = 5;
  for (bool shared : {false, true})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const Tensor a = randn(stored({2}, M, K, ta), DType::f64, 1);
        const Tensor b = randn(stored(shared ? Shape{} : Shape{2}, K, N, tb), DType::f64, 2);
        Tape<fp64> tape;
        const Var c = matmul(tape, Var(a), Var(b), ta, tb);
        EXPECT_TRUE(allclose(reference(a, b, ta, tb, M, N, K), c.value(), 1e-12, 1e-12))
            << "trans_a " << ta << " trans_b " << tb << " shared b " << shared;
      }
}

TEST(Matmul, TwoDimensionalAndMultiBatch) {
  Tape<fp64> tape;
  const Tensor a = randn({3, 4}, DType::f64, 3), b = randn({4, 2}, DType::f64, 4);
  const Var c = matmul(tape, Var(a), Var(b));
  Tensor ref = Tensor::zeros({3, 2}, DType::f64);
  for (int m = 0; m < 3; ++m)
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) ref.view<double>()(m, n) += a.view<double>()(m, k) * b.view<double>()(k, n);
  EXPECT_TRUE(allclose(ref, c.value(), 1e-12, 1e-12));
  const Var c4 = matmul(tape, Var(randn({2, 3, 4, 5}, DType::f64, 5)), Var(randn({2, 3, 5, 6}, DType::f64, 6)));
  EXPECT_EQ(c4.shape(), (Shape{2, 3, 4, 6}));
}

TEST(Matmul, GradientsMatchFiniteDifferences) {
  for (bool shared : {false, true})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1], ta, tb); };
        const auto rep = gradcheck(f, {randn(stored({2}, 3, 5, ta), DType::f64, 7),
                                       randn(stored(shared ? Shape{} : Shape{2}, 5, 4, tb), DType::f64, 8)});
        EXPECT_TRUE(rep.ok) << rep.worst << " (trans_a " << ta << " trans_b " << tb << " shared b " << shared << ")";
      }
}

TEST(Matmul, ReducedPrecisionMatchesFp32WithinTolerance) {
  // bf16-representable inputs, fp32 accumulation in both runs: only the rounding of c (2^-8 relative) differs.
  const Tensor a = randn({4, 8, 32}, DType::bf16, 9).to(DType::f32),
               b = randn({4, 16, 32}, DType::bf16, 10).to(DType::f32);
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const Var c32 = matmul(t32, Var(a), Var(b), false, true);
  const Var c16 = matmul(t16, Var(a.to(DType::bf16)), Var(b.to(DType::bf16)), false, true);
  EXPECT_EQ(c16.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(c32.value(), c16.value(), 1e-2, 5e-3));
}

TEST(Matmul, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var a(randn({2, 3, 4}, DType::f32)), b(randn({2, 4, 5}, DType::f32));
  EXPECT_THROW_MSG(matmul(tape, a, Var(randn({2, 5, 5}, DType::f32))),
                   "matmul: inner dimensions differ: a (2, 3, 4) times b (2, 5, 5)");
  EXPECT_THROW_MSG(matmul(tape, a, Var(randn({3, 4, 5}, DType::f32))),
                   "matmul: a (2, 3, 4) and b (3, 4, 5) have different batch dimensions");
  EXPECT_THROW_MSG(matmul(tape, Var(randn({4}, DType::f32)), b), "matmul: a (4,) and b (2, 4, 5) must be at least 2-D");
  EXPECT_THROW_MSG(matmul(tape, a, b, true), "matmul: inner dimensions differ: a (2, 3, 4)^T times b (2, 4, 5)");
}
