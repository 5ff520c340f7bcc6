// Tests layernorm: forward against the direct formula, backward against finite differences, errors.
#include "common/test_util.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

TEST(LayerNorm, ForwardMatchesFormula) {
  const Tensor x = randn({3, 5, 16}, DType::f64, 1, 3.0), w = randn({16}, DType::f64, 2), b = randn({16}, DType::f64, 3);
  Tape<fp64> tape;
  const Var y = layernorm(tape, Var(x), Var(w), Var(b), 1e-6);
  Tensor ref = Tensor::empty(x.shape(), DType::f64);
  auto xv = x.view<double>(), rv = ref.view<double>(), wv = w.view<double>(), bv = b.view<double>();
  for (int i = 0; i < 3; ++i)
    for (int t = 0; t < 5; ++t) {
      double m = 0, v = 0;
      for (int c = 0; c < 16; ++c) m += xv(i, t, c) / 16;
      for (int c = 0; c < 16; ++c) v += (xv(i, t, c) - m) * (xv(i, t, c) - m) / 16;
      for (int c = 0; c < 16; ++c) rv(i, t, c) = (xv(i, t, c) - m) / std::sqrt(v + 1e-6) * wv(c) + bv(c);
    }
  EXPECT_TRUE(allclose(ref, y.value(), 1e-12, 1e-12));
}

TEST(LayerNorm, GradientsMatchFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return layernorm(t, v[0], v[1], v[2], 1e-5); };
  const auto rep = gradcheck(f, {randn({4, 7}, DType::f64, 4), randn({7}, DType::f64, 5), randn({7}, DType::f64, 6)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(LayerNorm, WithoutBias) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return layernorm(t, v[0], v[1], Var(), 1e-5); };
  const auto rep = gradcheck(f, {randn({2, 3, 5}, DType::f64, 7), randn({5}, DType::f64, 8)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(LayerNorm, ReducedPrecisionMatchesFp32WithinTolerance) {
  const Tensor x = randn({8, 64}, DType::f32, 9), w = randn({64}, DType::f32, 10), b = randn({64}, DType::f32, 11);
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const Var y32 = layernorm(t32, Var(x), Var(w), Var(b), 1e-6);
  const Var y16 = layernorm(t16, Var(x.to(DType::bf16)), Var(w.to(DType::bf16)), Var(b.to(DType::bf16)), 1e-6);
  EXPECT_EQ(y16.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(y32.value(), y16.value(), 3e-2, 2e-2));
}

TEST(LayerNorm, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var x(randn({2, 8}, DType::f32)), w(randn({7}, DType::f32)), b(randn({8}, DType::f32));
  EXPECT_THROW_MSG(layernorm(tape, x, w, b, 1e-6), "layernorm: weight has shape (7,), expected (8,)");
  EXPECT_THROW_MSG(layernorm(tape, Var(randn({2, 8}, DType::f64)), w, b, 1e-6), "layernorm: x (2, 8) is f64");
}
