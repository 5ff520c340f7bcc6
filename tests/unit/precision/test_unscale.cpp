// Tests unscale_grads: gradients divided by the scale in their own dtype, inf/NaN reported, no-grad skipped.
#include "common/test_util.hpp"
#include "evaclip/precision/unscale.hpp"

using namespace evaclip;

TEST(Unscale, DividesEveryGradientByTheScale) {
  const Var a = Var::parameter(Tensor::zeros({3}, DType::f32));
  const Var b = Var::parameter(Tensor::zeros({2}, DType::bf16));
  const Var untouched = Var::parameter(Tensor::zeros({2}, DType::f32));  // no gradient: skipped
  a.accumulate_grad(Tensor::from({3}, DType::f32, std::vector<double>{1024, -2048, 3}));
  b.accumulate_grad(Tensor::from({2}, DType::bf16, std::vector<double>{512, 1}));
  const std::vector<Var> ps{a, b, untouched};
  EXPECT_FALSE(unscale_grads(ps, 1024.0));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{1, -2, 3.0 / 1024}));
  EXPECT_EQ(b.grad().dtype(), DType::bf16);
  EXPECT_EQ(b.grad().to_vector(), (std::vector<double>{0.5, 1.0 / 1024}));
  EXPECT_FALSE(untouched.has_grad());
}

TEST(Unscale, ReportsInfAndNaN) {
  for (double bad : {INFINITY, -INFINITY, NAN}) {
    const Var a = Var::parameter(Tensor::zeros({4}, DType::f16));
    a.accumulate_grad(Tensor::from({4}, DType::f16, std::vector<double>{1, bad, 2, 3}));
    const std::vector<Var> ps{a};
    EXPECT_TRUE(unscale_grads(ps, 2.0)) << bad;
  }
}

TEST(Unscale, FeedsTheDynamicLossScale) {
  // An overflowing step is skipped and (after the hysteresis) halves the scale.
  DynamicLossScale ls;
  ls.hysteresis = 1;
  const Var w = Var::parameter(Tensor::zeros({2}, DType::f16));
  w.accumulate_grad(Tensor::from({2}, DType::f16, std::vector<double>{65504, INFINITY}));
  const std::vector<Var> ps{w};
  EXPECT_FALSE(ls.update(unscale_grads(ps, ls.scale())));
  EXPECT_EQ(ls.scale(), 32768.0);
}

TEST(Unscale, RejectsANonPositiveScale) {
  const std::vector<Var> ps;
  EXPECT_THROW_MSG(unscale_grads(ps, 0.0), "unscale_grads: loss scale 0");
}
