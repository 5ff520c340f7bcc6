// Tests exp_clamp: forward against exp(clamp), gradient inside the range, at its boundaries and outside.
#include "common/test_util.hpp"
#include "evaclip/ops/exp_clamp.hpp"

using namespace evaclip;
using evaclip::test::allclose;

namespace {
const double ln100 = std::log(100.0);
}  // namespace

TEST(ExpClamp, ForwardClampsThenExponentiates) {
  const std::vector<double> xs = {-3.0, -1e-9, 0.0, 0.5, std::log(1 / 0.07), ln100, 4.7, 50.0};
  Tape<fp64> tape;
  const Var y = exp_clamp(tape, Var(Tensor::from({8}, DType::f64, xs)), 0.0, ln100);
  std::vector<double> ref;
  for (double v : xs) ref.push_back(std::exp(std::clamp(v, 0.0, ln100)));
  EXPECT_TRUE(allclose(Tensor::from({8}, DType::f64, ref), y.value(), 0, 1e-15));
  EXPECT_NEAR(y.value().to_vector()[4], 1 / 0.07, 1e-12);  // CLIP's initial temperature
  EXPECT_NEAR(y.value().to_vector()[7], 100.0, 1e-12);     // saturates at 100
}

TEST(ExpClamp, GradientMatchesFiniteDifferencesInside) {
  // Points at least 0.1 from both boundaries, where the function is smooth.
  Rng rng(3);
  const Tensor x = Tensor::uniform({3, 4}, DType::f64, rng, 0.1, ln100 - 0.1);
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return exp_clamp(t, v[0], 0.0, ln100); };
  const auto rep = gradcheck(f, {x});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(ExpClamp, GradientIsZeroOutsideAndPassesAtTheBoundaries) {
  // Convention (torch.clamp): lo <= x <= hi passes exp(x); strictly outside gives 0.
  const std::vector<double> xs = {-2.0, -1e-6, 0.0, 1.0, ln100, ln100 + 1e-6, 9.0};
  Tape<fp64> tape;
  const Var x(Tensor::from({7}, DType::f64, xs), true);
  tape.backward(exp_clamp(tape, x, 0.0, ln100), 2.0);
  const std::vector<double> want = {0, 0, 2 * 1.0, 2 * std::exp(1.0), 2 * 100.0, 0, 0};
  EXPECT_TRUE(allclose(Tensor::from({7}, DType::f64, want), x.grad(), 0, 1e-14));
}

TEST(ExpClamp, ScalarLogitScaleInBf16) {
  // The logit-scale parameter is a rank-0 tensor; in bf16 the result is exp of the rounded value, rounded.
  Tape<bf16_mixed> tape;
  const Var t = Var::parameter(Tensor::from<double>({}, DType::bf16, {std::log(1 / 0.07)}), DType::f32);
  const Var s = exp_clamp(tape, t, 0.0, ln100);
  EXPECT_EQ(s.shape(), Shape{});
  const double tv = t.value().item();
  EXPECT_NEAR(s.value().item(), std::exp(tv), std::exp(tv) * 0x1p-8);
  tape.backward(s);
  EXPECT_EQ(t.grad().dtype(), DType::f32);
  EXPECT_NEAR(t.grad().item(), std::exp(tv), std::exp(tv) * 0x1p-8);
}

TEST(ExpClamp, BadArgumentsNameTheOp) {
  Tape<fp32> tape;
  EXPECT_THROW_MSG(exp_clamp(tape, Var(Tensor::zeros({1}, DType::f32)), 1.0, 0.0), "exp_clamp: empty range");
  EXPECT_THROW_MSG(exp_clamp(tape, Var(Tensor::zeros({1}, DType::f64)), 0.0, 1.0), "exp_clamp: x (1,) is f64");
}
