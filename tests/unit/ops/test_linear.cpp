// Tests linear: forward against the direct formula, backward against finite differences, precision, errors.
#include "common/test_util.hpp"
#include "evaclip/ops/linear.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

TEST(Linear, ForwardMatchesFormula) {
  const Tensor x = randn({2, 3, 5}, DType::f64, 1), w = randn({4, 5}, DType::f64, 2), b = randn({4}, DType::f64, 3);
  Tape<fp64> tape;
  const Var y = linear(tape, Var(x), Var(w), Var(b));
  const Var y0 = linear(tape, Var(x), Var(w), Var());
  Tensor ref = Tensor::empty({2, 3, 4}, DType::f64), ref0 = Tensor::empty({2, 3, 4}, DType::f64);
  auto xv = x.view<double>(), wv = w.view<double>(), bv = b.view<double>();
  auto rv = ref.view<double>(), r0 = ref0.view<double>();
  for (int i = 0; i < 2; ++i)
    for (int t = 0; t < 3; ++t)
      for (int o = 0; o < 4; ++o) {
        double s = 0;
        for (int c = 0; c < 5; ++c) s += xv(i, t, c) * wv(o, c);
        r0(i, t, o) = s;
        rv(i, t, o) = s + bv(o);
      }
  EXPECT_TRUE(allclose(ref, y.value(), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(ref0, y0.value(), 1e-12, 1e-12));
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); };
  const auto rep =
      gradcheck(f, {randn({2, 3, 5}, DType::f64, 4), randn({4, 5}, DType::f64, 5), randn({4}, DType::f64, 6)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Linear, GradientsWithoutBias) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], Var()); };
  const auto rep = gradcheck(f, {randn({7, 3}, DType::f64, 7), randn({6, 3}, DType::f64, 8)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Linear, BiasGradientSumsOverManyRows) {
  // More rows than one column_reduce block (64), so the blocked sum is exercised; db = sum over rows of dy.
  const Tensor x = randn({300, 4}, DType::f64, 9), w = randn({3, 4}, DType::f64, 10);
  Tape<fp64> tape;
  const Var b = Var::parameter(randn({3}, DType::f64, 11));
  const Var y = linear(tape, Var(x), Var(w), b);
  const Tensor seed = randn({300, 3}, DType::f64, 12);
  tape.backward(y, seed.clone());
  Tensor ref = Tensor::zeros({3}, DType::f64);
  auto sv = seed.view<double>();
  auto rv = ref.view<double>();
  for (int r = 0; r < 300; ++r)
    for (int o = 0; o < 3; ++o) rv(o) += sv(r, o);
  EXPECT_TRUE(allclose(ref, b.grad(), 1e-12, 1e-12));
}

TEST(Linear, ReducedPrecisionMatchesFp32WithinTolerance) {
  // Inputs are bf16-representable in both runs and both accumulate in fp32, so the runs differ only by
  // the rounding of y to bf16: at most half a bf16 ulp, 2^-8 relative; atol covers outputs near zero.
  const Tensor x = randn({16, 64}, DType::bf16, 13).to(DType::f32), w = randn({32, 64}, DType::bf16, 14).to(DType::f32);
  const Tensor b = randn({32}, DType::bf16, 15).to(DType::f32);
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const Var y32 = linear(t32, Var(x), Var(w), Var(b));
  const Var y16 = linear(t16, Var(x.to(DType::bf16)), Var(w.to(DType::bf16)), Var(b.to(DType::bf16)));
  EXPECT_EQ(y16.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(y32.value(), y16.value(), 1e-2, 5e-3));
}

TEST(Linear, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var x(randn({2, 8}, DType::f32)), w(randn({4, 8}, DType::f32)), b(randn({4}, DType::f32));
  EXPECT_THROW_MSG(linear(tape, x, Var(randn({4, 7}, DType::f32)), b),
                   "linear: weight has shape (4, 7), expected (4, 8)");
  EXPECT_THROW_MSG(linear(tape, x, w, Var(randn({5}, DType::f32))), "linear: bias has shape (5,), expected (4,)");
  EXPECT_THROW_MSG(linear(tape, x, Var(randn({8}, DType::f32)), b),
                   "linear: weight has shape (8,), expected (out, in)");
  EXPECT_THROW_MSG(linear(tape, Var(randn({2, 8}, DType::f64)), w, b), "linear: x (2, 8) is f64");
}
