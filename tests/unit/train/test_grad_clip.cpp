// clip_grad_norm: the global norm against a long-double sum written here, DeepSpeed's clip coefficient
// max_norm / (norm + 1e-6), measure-only and under-the-limit cases, and thread-count independence.
#include <omp.h>

#include <cmath>

#include "common/test_util.hpp"
#include "evaclip/train/grad_clip.hpp"

using namespace evaclip;
using namespace evaclip::train;

namespace {

nn::NamedParam param_with_grad(const std::string& name, Shape s, DType value_dtype, DType grad_dtype,
                               std::uint64_t seed, double std) {
  Var v = Var::parameter(Tensor::zeros(s, value_dtype), grad_dtype);
  v.accumulate_grad(test::randn(s, DType::f64, seed, std));
  return {name, v};
}

// Two groups: f64, f32 and an fp32 gradient of a bf16 parameter, a large tensor (several reduction
// blocks), and a parameter without a gradient.
std::vector<ParamGroup> make_groups() {
  std::vector<ParamGroup> g(2);
  g[0].params = {param_with_grad("a", {5, 7}, DType::f64, DType::f64, 1, 1.0),
                 param_with_grad("big", {100003}, DType::f32, DType::f32, 2, 0.05)};
  g[1].params = {param_with_grad("c", {3, 4}, DType::bf16, DType::f32, 3, 2.0),
                 {"no_grad", Var::parameter(Tensor::zeros({6}, DType::f32))}};
  return g;
}

double reference_norm(const std::vector<ParamGroup>& groups) {
  long double s = 0;
  for (const auto& g : groups)
    for (const auto& p : g.params)
      if (p.var.has_grad())
        for (double x : p.var.grad().to_vector()) s += (long double)x * x;
  return double(std::sqrt(s));
}

}  // namespace

TEST(GradClip, ScalesEveryGradientByMaxOverNormWhenAbove) {
  auto groups = make_groups();
  const double norm = reference_norm(groups);
  ASSERT_GT(norm, 5.0);
  std::vector<Tensor> before;
  for (const auto& g : groups)
    for (const auto& p : g.params)
      if (p.var.has_grad()) before.push_back(p.var.grad().clone());

  EXPECT_NEAR(clip_grad_norm(groups, 5.0), norm, 1e-12 * norm);
  const double f = 5.0 / (norm + 1e-6);
  std::size_t k = 0;
  for (const auto& g : groups)
    for (const auto& p : g.params) {
      if (!p.var.has_grad()) continue;
      const Tensor want = Tensor::from(before[k].shape(), DType::f64, [&] {
        auto v = before[k].to_vector();
        for (auto& x : v) x *= f;
        return v;
      }());
      EXPECT_TRUE(test::allclose(want, p.var.grad(), tolerance_for(p.var.grad_dtype()))) << p.name;
      ++k;
    }
  EXPECT_NEAR(reference_norm(groups), 5.0, 1e-5);
  EXPECT_FALSE(groups[1].params[1].var.has_grad());
}

TEST(GradClip, UnderTheLimitOrMeasureOnlyLeavesGradientsAlone) {
  for (double max_norm : {1e9, 0.0, -1.0}) {
    auto groups = make_groups();
    const Tensor a = groups[0].params[0].var.grad().clone(), c = groups[1].params[0].var.grad().clone();
    EXPECT_NEAR(clip_grad_norm(groups, max_norm), reference_norm(groups), 1e-12 * reference_norm(groups));
    EXPECT_TRUE(test::allclose(a, groups[0].params[0].var.grad(), 0, 0)) << max_norm;
    EXPECT_TRUE(test::allclose(c, groups[1].params[0].var.grad(), 0, 0)) << max_norm;
  }
}

TEST(GradClip, NonFiniteNormIsReportedAndNothingIsScaled) {
  auto groups = make_groups();
  groups[0].params[0].var.grad().data<double>()[3] = NAN;
  const Tensor c = groups[1].params[0].var.grad().clone();
  EXPECT_TRUE(std::isnan(clip_grad_norm(groups, 1.0)));
  EXPECT_TRUE(test::allclose(c, groups[1].params[0].var.grad(), 0, 0));
}

TEST(GradClip, SameBitsForAnyThreadCount) {
  const auto groups = make_groups();
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = clip_grad_norm(groups, 0);
  for (int t : {2, 3, 7}) {
    omp_set_num_threads(t);
    EXPECT_EQ(clip_grad_norm(groups, 0), one) << t << " threads";
  }
  omp_set_num_threads(saved);
}
