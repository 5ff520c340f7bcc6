// AdamW against torch.optim.AdamW run in float64 (tests/data/train/optimizer.safetensors from
// tools/make_optimizer_fixtures.py): five steps, two groups (with and without weight decay), lr factors, a
// zero tensor and a skipped gradient, in fp64 and fp32. The machinery shared with LAMB (masters, save/load,
// threads, errors) is tested for both rules in test_lamb.cpp.
#include "common/test_util.hpp"
#include "evaclip/train/optimizer.hpp"
#include "unit/train/optimizer_fixture.hpp"

using namespace evaclip;
using namespace evaclip::train;

namespace {

void check_against_torch(DType dt, Tolerance tol) {
  const auto fx = load_safetensors(test::data_path("train/optimizer.safetensors"));
  std::vector<ParamGroup> groups = {{"a", 3e-3, 0.75, 0.05, {}}, {"b", 5e-3, 1.0, 0.0, {}}};
  for (std::size_t i = 0; i < test::kOptimizerParams.size(); ++i)
    groups[std::size_t(test::kOptimizerGroupOf[i])].params.push_back(
        {test::kOptimizerParams[i], Var::parameter(fx.at("init." + test::kOptimizerParams[i]).to(dt).clone(), dt)});
  auto opt = make_optimizer("adamw", groups);
  const auto factors = fx.at("lr_factor").to_vector();
  for (std::size_t s = 0; s < factors.size(); ++s) {
    for (const auto& g : groups)
      for (const auto& p : g.params) {
        p.var.clear_grad();
        const auto it = fx.find("grad." + std::to_string(s) + "." + p.name);
        if (it != fx.end()) p.var.accumulate_grad(it->second);
      }
    opt->step(factors[s]);
    for (const auto& g : groups)
      for (const auto& p : g.params)
        EXPECT_TRUE(test::allclose(fx.at("adamw." + std::to_string(s) + "." + p.name), p.var.value(), tol))
            << p.name << " after step " << s;
  }
  EXPECT_EQ(opt->steps(), std::int64_t(factors.size()));
}

}  // namespace

TEST(AdamW, Fp64MatchesTorch) { check_against_torch(DType::f64, {1e-16, 1e-13}); }

TEST(AdamW, Fp32MatchesTorch) { check_against_torch(DType::f32, {1e-8, 1e-6}); }
