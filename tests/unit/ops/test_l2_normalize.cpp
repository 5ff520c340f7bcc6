// Tests l2_normalize: forward against x / max(||x||, eps), gradients on both sides of eps, errors.
#include "common/test_util.hpp"
#include "evaclip/ops/l2_normalize.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

TEST(L2Normalize, ForwardMatchesFormula) {
  Tensor x = randn({2, 3, 7}, DType::f64, 1, 5.0);
  auto xv = x.view<double>();
  for (int c = 0; c < 7; ++c) xv(1, 2, c) = 0;  // a zero row stays zero (divided by eps, no NaN)
  Tape<fp64> tape;
  const Var y = l2_normalize(tape, Var(x));
  Tensor ref = Tensor::empty(x.shape(), DType::f64);
  auto rv = ref.view<double>();
  for (int i = 0; i < 2; ++i)
    for (int t = 0; t < 3; ++t) {
      double ss = 0;
      for (int c = 0; c < 7; ++c) ss += xv(i, t, c) * xv(i, t, c);
      for (int c = 0; c < 7; ++c) rv(i, t, c) = xv(i, t, c) / std::max(std::sqrt(ss), 1e-12);
    }
  EXPECT_TRUE(allclose(ref, y.value(), 1e-15, 1e-14));
}

TEST(L2Normalize, GradientMatchesFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return l2_normalize(t, v[0]); };
  const auto rep = gradcheck(f, {randn({3, 2, 5}, DType::f64, 2)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(L2Normalize, GradientBelowEpsIsDyOverEps) {
  // Row 0 has norm ~1 (projected gradient), row 1 norm ~1e-5 < eps = 1e-3 (y = x / eps, linear).
  Tensor x = randn({2, 4}, DType::f64, 3);
  auto xv = x.view<double>();
  for (int c = 0; c < 4; ++c) xv(1, c) *= 1e-5;
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return l2_normalize(t, v[0], 1e-3); };
  const auto rep = gradcheck(f, {x}, {.step = 1e-7});
  EXPECT_TRUE(rep.ok) << rep.worst;

  Tape<fp64> tape;
  const Var xz(Tensor::zeros({1, 3}, DType::f64), true);
  tape.backward(l2_normalize(tape, xz, 1e-3), Tensor::from<double>({1, 3}, DType::f64, {1.0, -2.0, 0.5}));
  EXPECT_TRUE(allclose(Tensor::from<double>({1, 3}, DType::f64, {1e3, -2e3, 5e2}), xz.grad(), 0, 1e-15));
}

TEST(L2Normalize, ReducedPrecisionRowsHaveUnitNorm) {
  Tape<bf16_mixed> tape;
  const Var y = l2_normalize(tape, Var(randn({6, 128}, DType::bf16, 4, 10.0)));
  const auto v = y.value().to_vector();
  for (int r = 0; r < 6; ++r) {
    double ss = 0;
    for (int c = 0; c < 128; ++c) ss += v[std::size_t(r * 128 + c)] * v[std::size_t(r * 128 + c)];
    EXPECT_NEAR(std::sqrt(ss), 1.0, 4e-3) << "row " << r;  // each element rounded by <= 2^-9 relative
  }
}

TEST(L2Normalize, BadInputNamesTheOp) {
  Tape<fp32> tape;
  EXPECT_THROW_MSG(l2_normalize(tape, Var(Tensor::zeros({}, DType::f32))), "l2_normalize: x () must have");
  EXPECT_THROW_MSG(l2_normalize(tape, Var(Tensor::zeros({2, 3}, DType::bf16))), "l2_normalize: x (2, 3) is bf16");
}
