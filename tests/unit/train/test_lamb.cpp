// LAMB against a float64 numpy implementation of DeepSpeed's FusedLamb (tests/data/train/optimizer.safetensors
// from tools/make_optimizer_fixtures.py): the kernel's trust ratios, fp64 and fp32 runs over five steps with
// two groups, lr factors and a skipped gradient; then the optimiser machinery both rules share: bf16 / f16
// master weights, save_state / load_state through a safetensors file, thread-count independence, errors.
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "common/test_util.hpp"
#include "evaclip/train/optimizer.hpp"
#include "unit/train/optimizer_fixture.hpp"

using namespace evaclip;
using namespace evaclip::train;

namespace {

constexpr int kSteps = 5;

const std::map<std::string, Tensor>& fx() {
  static const auto t = load_safetensors(test::data_path("train/optimizer.safetensors"));
  return t;
}
const Tensor& at(const std::string& key) {
  const auto it = fx().find(key);
  EVACLIP_CHECK(it != fx().end(), "fixture key ", key, " missing");
  return it->second;
}
bool has(const std::string& key) { return fx().count(key) > 0; }

std::vector<ParamGroup> make_groups(DType value, DType grad) {
  std::vector<ParamGroup> g = {{"a", 3e-3, 0.75, 0.05, {}}, {"b", 5e-3, 1.0, 0.0, {}}};
  for (std::size_t i = 0; i < test::kOptimizerParams.size(); ++i)
    g[std::size_t(test::kOptimizerGroupOf[i])].params.push_back(
        {test::kOptimizerParams[i], Var::parameter(at("init." + test::kOptimizerParams[i]).to(value).clone(), grad)});
  return g;
}

void set_grads(const std::vector<ParamGroup>& groups, int step) {
  for (const auto& g : groups)
    for (const auto& p : g.params) {
      p.var.clear_grad();
      const std::string key = "grad." + std::to_string(step) + "." + p.name;
      if (has(key)) p.var.accumulate_grad(at(key));
    }
}

// Runs the fixture's steps; after each, checks every parameter against "<ref>.<step>.<name>" when tol is set.
void run(Optimizer& opt, int from, int to, const char* ref = nullptr, Tolerance tol = {}) {
  for (int s = from; s < to; ++s) {
    set_grads(opt.groups(), s);
    opt.step(at("lr_factor").to_vector()[std::size_t(s)]);
    if (!ref) continue;
    for (const auto& g : opt.groups())
      for (const auto& p : g.params)
        EXPECT_TRUE(test::allclose(at(std::string(ref) + "." + std::to_string(s) + "." + p.name), p.var.value(), tol))
            << p.name << " after step " << s;
  }
}

std::map<std::string, Tensor> state_of(const Optimizer& opt) {
  std::vector<std::pair<std::string, Tensor>> v;
  opt.save_state(v);
  std::map<std::string, Tensor> m;
  for (auto& [k, t] : v) EXPECT_TRUE(m.emplace(k, t.clone()).second) << "duplicate key " << k;
  return m;
}

::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape() || std::memcmp(a.raw(), b.raw(), a.nbytes()) != 0)
    return ::testing::AssertionFailure() << "differ: " << dtype_name(a.dtype()) << to_string(a.shape()) << " vs "
                                         << dtype_name(b.dtype()) << to_string(b.shape());
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(LambKernel, UpdatesAndTrustRatiosMatchFusedLamb) {
  // Drives lamb_update directly, so the returned trust ratio (1 for the zero tensor, both clamps) is checked.
  for (std::size_t i = 0; i < test::kOptimizerParams.size(); ++i) {
    const std::string& n = test::kOptimizerParams[i];
    const ParamGroup g = make_groups(DType::f64, DType::f64)[std::size_t(test::kOptimizerGroupOf[i])];
    Tensor w = at("init." + n).clone(), m = Tensor::zeros(w.shape(), DType::f64), v = m.clone();
    std::int64_t t = 0;
    for (int s = 0; s < kSteps; ++s) {
      const std::string key = std::to_string(s) + "." + n;
      if (has("grad." + key)) {
        const double lr = g.base_lr * at("lr_factor").to_vector()[std::size_t(s)] * g.lr_scale;
        const double r = lamb_update(w.numel(), w.data<double>(), at("grad." + key).data<double>(), m.data<double>(),
                                     v.data<double>(), LambArgs{lr, g.weight_decay, 0.9, 0.999, 1e-8, 0.01, 10.0, ++t});
        EXPECT_NEAR(r, at("lamb_trust." + key).item(), 1e-12 * r) << key;
      }
      EXPECT_TRUE(test::allclose(at("lamb." + key), w, 1e-15, 1e-12)) << key;
    }
  }
}

TEST(Lamb, Fp64MatchesFusedLambReference) {
  auto opt = make_optimizer("lamb", make_groups(DType::f64, DType::f64));
  run(*opt, 0, kSteps, "lamb", {1e-15, 1e-12});
  EXPECT_EQ(opt->steps(), kSteps);
  const auto st = state_of(*opt);
  EXPECT_EQ(st.at("optim.step").data<std::int64_t>()[0], kSteps);
  EXPECT_EQ(st.at("optim.step.bias").data<std::int64_t>()[0], kSteps - 1);  // no gradient at step 2
  EXPECT_EQ(st.at("optim.step.w").data<std::int64_t>()[0], kSteps);
}

TEST(Lamb, Fp32MatchesFusedLambReference) {
  // Inputs are float32-representable; float element math leaves a few ulps per step.
  auto opt = make_optimizer("lamb", make_groups(DType::f32, DType::f32));
  run(*opt, 0, kSteps, "lamb", {1e-8, 1e-6});
}

// The machinery below is shared by both rules, so it is checked for each.
class OptimizerMachinery : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Rules, OptimizerMachinery, ::testing::Values("lamb", "adamw"));

TEST_P(OptimizerMachinery, SixteenBitParametersUpdateAnFp32MasterAndHoldItRounded) {
  for (DType half : {DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(half));
    auto mixed = make_optimizer(GetParam(), make_groups(half, DType::f32));
    // An fp32 run from the same (rounded) start and gradients is what the masters must follow bit for bit.
    auto groups32 = make_groups(half, DType::f32);
    for (auto& g : groups32)
      for (auto& p : g.params) p.var = Var::parameter(p.var.value().to(DType::f32), DType::f32);
    auto fp32 = make_optimizer(GetParam(), groups32);
    run(*mixed, 0, kSteps);
    run(*fp32, 0, kSteps);
    const auto st = state_of(*mixed);
    for (std::size_t gi = 0; gi < 2; ++gi)
      for (std::size_t pi = 0; pi < mixed->groups()[gi].params.size(); ++pi) {
        const auto& p = mixed->groups()[gi].params[pi];
        const Tensor& master = st.at("optim.master." + p.name);
        EXPECT_TRUE(same_bits(fp32->groups()[gi].params[pi].var.value(), master)) << p.name;
        EXPECT_TRUE(same_bits(master.to(half), p.var.value())) << p.name;
        EXPECT_EQ(p.var.dtype(), half);
      }
    // And the master moved away from the 16-bit start: the update is not lost to rounding.
    EXPECT_FALSE(same_bits(st.at("optim.master.w"), at("init.w").to(half).to(DType::f32)));
  }
}

TEST_P(OptimizerMachinery, SaveAndLoadThroughAFileContinueBitIdentically) {
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    const DType gdt = dt == DType::f64 ? DType::f64 : DType::f32;
    auto straight = make_optimizer(GetParam(), make_groups(dt, gdt));
    run(*straight, 0, kSteps);

    const int k = 3;  // the skipped gradient (step 2) falls before the save
    auto first = make_optimizer(GetParam(), make_groups(dt, gdt));
    run(*first, 0, k);
    std::vector<std::pair<std::string, Tensor>> saved;
    first->save_state(saved);
    const std::string path = ::testing::TempDir() + "evaclip_optim_" + std::to_string(getpid()) + ".safetensors";
    save_safetensors(path, std::map<std::string, Tensor>(saved.begin(), saved.end()));
    // A fresh model holding the first run's weights, and a fresh optimiser.
    auto groups = make_groups(dt, gdt);
    for (std::size_t gi = 0; gi < groups.size(); ++gi)
      for (std::size_t pi = 0; pi < groups[gi].params.size(); ++pi)
        groups[gi].params[pi].var.assign(first->groups()[gi].params[pi].var.value());
    auto resumed = make_optimizer(GetParam(), groups);
    resumed->load_state(load_safetensors(path));
    std::remove(path.c_str());
    EXPECT_EQ(resumed->steps(), k);
    run(*resumed, k, kSteps);

    for (std::size_t gi = 0; gi < groups.size(); ++gi)
      for (std::size_t pi = 0; pi < groups[gi].params.size(); ++pi)
        EXPECT_TRUE(same_bits(straight->groups()[gi].params[pi].var.value(), groups[gi].params[pi].var.value()))
            << groups[gi].params[pi].name;
    const auto a = state_of(*straight), b = state_of(*resumed);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [key, t] : a) EXPECT_TRUE(same_bits(t, b.at(key))) << key;
  }
}

TEST_P(OptimizerMachinery, SameBitsForAnyThreadCount) {
  auto once = [&](int threads) {
    omp_set_num_threads(threads);
    std::vector<ParamGroup> g(1, ParamGroup{"all", 1e-2, 1.0, 0.05, {}});
    g[0].params.push_back({"large", Var::parameter(test::randn({70001}, DType::f32, 5), DType::f32)});
    auto opt = make_optimizer(GetParam(), g);
    for (int s = 0; s < 3; ++s) {
      g[0].params[0].var.clear_grad();
      g[0].params[0].var.accumulate_grad(test::randn({70001}, DType::f32, 10 + std::uint64_t(s)));
      opt->step(1.0);
    }
    return g[0].params[0].var.value();
  };
  const int saved = omp_get_max_threads();
  const Tensor one = once(1);
  for (int t : {2, 5}) EXPECT_TRUE(same_bits(one, once(t))) << t << " threads";
  omp_set_num_threads(saved);
}

TEST_P(OptimizerMachinery, ClampReachesTheMasterSoTheNextStepStartsFromTheClampedValue) {
  const double hi = 2.0;  // below the scalar's start 2.659
  auto groups = make_groups(DType::bf16, DType::f32);
  auto opt = make_optimizer(GetParam(), groups);
  run(*opt, 0, 1);
  const Var scale = groups[1].params[1].var;
  opt->clamp(scale, 0.0, hi);
  EXPECT_EQ(state_of(*opt).at("optim.master.scale").item(), hi);
  EXPECT_EQ(scale.value().item(), hi);  // 2 is exact in bf16
  // The next update starts from the clamped master (one step moves it by less than 0.01; unclamped it is 2.66).
  const Tensor before = state_of(*opt).at("optim.master.w");
  run(*opt, 1, 2);
  EXPECT_LT(std::abs(state_of(*opt).at("optim.master.scale").item() - hi), 0.01);
  EXPECT_FALSE(same_bits(before, state_of(*opt).at("optim.master.w")));

  auto groups32 = make_groups(DType::f32, DType::f32);  // no master: the value itself is clamped
  auto opt32 = make_optimizer(GetParam(), groups32);
  opt32->clamp(groups32[0].params[1].var, -1.0, 1.0);
  const auto v = groups32[0].params[1].var.value().to_vector(), init = at("init.big").to_vector();
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], double(float(std::clamp(init[i], -1.0, 1.0))));
  EXPECT_THROW_MSG(opt32->clamp(Var::parameter(Tensor::zeros({}, DType::f32)), 0, 1), "not in its groups");
}

TEST_P(OptimizerMachinery, BadStateAndSettingsAreErrorsNamingTheCulprit) {
  auto opt = make_optimizer(GetParam(), make_groups(DType::f32, DType::f32));
  run(*opt, 0, 1);
  auto st = state_of(*opt);
  auto fresh = make_optimizer(GetParam(), make_groups(DType::f32, DType::f32));
  auto missing = st;
  missing.erase("optim.exp_avg_sq.big");
  EXPECT_THROW_MSG(fresh->load_state(missing), "missing key \"optim.exp_avg_sq.big\"");
  EXPECT_EQ(fresh->steps(), 0);  // unchanged by the failed load
  auto reshaped = st;
  reshaped["optim.exp_avg.w"] = Tensor::zeros({7, 5}, DType::f32);
  EXPECT_THROW_MSG(fresh->load_state(reshaped), "\"optim.exp_avg.w\" is f32 (7, 5), expected f32 (5, 7)");
  auto retyped = st;
  retyped["optim.exp_avg.w"] = st.at("optim.exp_avg.w").to(DType::f64);
  EXPECT_THROW_MSG(fresh->load_state(retyped), "\"optim.exp_avg.w\" is f64");

  EXPECT_THROW_MSG(make_optimizer(GetParam(), make_groups(DType::f32, DType::f32), {.beta1 = 1.0}), "betas (1");
  auto twice = make_groups(DType::f32, DType::f32);
  twice[1].params.push_back(twice[0].params[0]);
  EXPECT_THROW_MSG(make_optimizer(GetParam(), twice), "parameter \"w\" appears twice");
  std::vector<ParamGroup> ints(1, ParamGroup{"i", 1e-3, 1.0, 0.0, {{"ids", Var::parameter(Tensor::zeros({3}, DType::i64))}}});
  EXPECT_THROW_MSG(make_optimizer(GetParam(), ints), "\"ids\" is i64");
  EXPECT_THROW_MSG(opt->step(-1.0), "lr factor -1");
}

TEST(Optimizer, UnknownNameIsAnError) {
  EXPECT_THROW_MSG(make_optimizer("sgd", {}), "unknown optimizer \"sgd\" (valid: lamb, adamw)");
}
