// Tests softmax: forward against the direct formula (and its stability for large inputs), backward
// against finite differences, reduced precision, errors.
#include "common/test_util.hpp"
#include "evaclip/ops/softmax.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

TEST(Softmax, ForwardMatchesFormula) {
  const Tensor x = randn({2, 3, 7}, DType::f64, 1, 2.0);
  Tape<fp64> tape;
  const Var y = softmax(tape, Var(x));
  Tensor ref = Tensor::empty(x.shape(), DType::f64);
  auto xv = x.view<double>(), rv = ref.view<double>();
  for (int i = 0; i < 2; ++i)
    for (int t = 0; t < 3; ++t) {
      double z = 0;
      for (int c = 0; c < 7; ++c) z += std::exp(xv(i, t, c));
      for (int c = 0; c < 7; ++c) rv(i, t, c) = std::exp(xv(i, t, c)) / z;
    }
  EXPECT_TRUE(allclose(ref, y.value(), 1e-12, 1e-12));
}

TEST(Softmax, LargeInputsDoNotOverflow) {
  // exp(1000) overflows; softmax is shift-invariant, so x + 1000 must give the softmax of x.
  const Tensor x = randn({4, 9}, DType::f32, 2);
  Tensor shifted = Tensor::empty(x.shape(), DType::f32);
  const auto xs = x.to_vector();
  for (std::size_t i = 0; i < xs.size(); ++i) shifted.data<float>()[i] = float(xs[i] + 1000.0);
  Tape<fp32> tape;
  EXPECT_TRUE(allclose(softmax(tape, Var(x)).value(), softmax(tape, Var(shifted)).value(), 1e-4, 1e-3));
}

TEST(Softmax, GradientsMatchFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return softmax(t, v[0]); };
  const auto rep = gradcheck(f, {randn({3, 2, 6}, DType::f64, 3)});
  EXPECT_TRUE(rep.ok) << rep.worst;
  const auto one = gradcheck(f, {randn({4, 1}, DType::f64, 4)});  // a single column: y = 1, dx = 0
  EXPECT_TRUE(one.ok) << one.worst;
}

TEST(Softmax, ReducedPrecisionMatchesFp32WithinTolerance) {
  // Both compute in fp32 from the same bf16-representable inputs; bf16 rounds y once (2^-8 relative).
  const Tensor x = randn({8, 64}, DType::bf16, 5, 3.0).to(DType::f32);
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const Var y32 = softmax(t32, Var(x)), y16 = softmax(t16, Var(x.to(DType::bf16)));
  EXPECT_EQ(y16.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(y32.value(), y16.value(), 1e-6, 5e-3));
}

TEST(Softmax, BadInputsNameTheOp) {
  Tape<fp32> tape;
  EXPECT_THROW_MSG(softmax(tape, Var(randn({2, 8}, DType::f64))), "softmax: x (2, 8) is f64");
  EXPECT_THROW_MSG(softmax(tape, Var(randn({4, 6}, DType::f32).transpose(0, 1))),
                   "softmax: x (6, 4) must be contiguous");
}
