// Tests the precision policies (types, dtypes, names, concept, is_mixed), tolerance_for and loss scaling.
#include <cmath>
#include <string>
#include <type_traits>

#include "common/test_util.hpp"

using namespace evaclip;

static_assert(std::is_same_v<fp64::param_t, double> && std::is_same_v<fp64::compute_t, double>);
static_assert(std::is_same_v<fp32::param_t, float> && std::is_same_v<fp32::master_t, float>);
static_assert(std::is_same_v<bf16_mixed::param_t, bf16> && std::is_same_v<bf16_mixed::act_t, bf16>);
static_assert(std::is_same_v<bf16_mixed::compute_t, float> && std::is_same_v<bf16_mixed::master_t, float>);
static_assert(std::is_same_v<fp16_mixed::param_t, f16> && std::is_same_v<fp16_mixed::compute_t, float>);
static_assert(std::is_same_v<fp16_mixed::loss_scale_t, DynamicLossScale>);
static_assert(std::is_same_v<bf16_mixed::loss_scale_t, NoLossScale>);
static_assert(std::is_same_v<fp32::loss_scale_t, NoLossScale>);
static_assert(precision_policy<fp64> && precision_policy<fp32> && precision_policy<bf16_mixed> &&
              precision_policy<fp16_mixed>);
static_assert(!is_mixed<fp64> && !is_mixed<fp32> && is_mixed<bf16_mixed> && is_mixed<fp16_mixed>);

namespace {
struct NotAPolicy {
  using param_t = float;
  using act_t = float;
  using compute_t = float;
  using master_t = float;
  // no loss_scale_t, no name
};
struct NamelessPolicy : Precision<float, float, float, float, NoLossScale> {};
// A user-defined policy: fp32 forward with a static loss scale.
struct fp32_scaled : Precision<float, float, double, double, StaticLossScale> {
  static constexpr const char* name = "fp32_scaled";
};
}  // namespace

static_assert(!precision_policy<NotAPolicy>);
static_assert(!precision_policy<NamelessPolicy>);
static_assert(!precision_policy<int>);
static_assert(precision_policy<fp32_scaled> && is_mixed<fp32_scaled>);

template <class P>
constexpr bool accepts_policy() {
  return requires { requires precision_policy<P>; };
}

TEST(Policy, DtypesAndNames) {
  EXPECT_EQ(fp64::param_dtype, DType::f64);
  EXPECT_EQ(fp64::master_dtype, DType::f64);
  EXPECT_EQ(fp32::act_dtype, DType::f32);
  EXPECT_EQ(bf16_mixed::param_dtype, DType::bf16);
  EXPECT_EQ(bf16_mixed::act_dtype, DType::bf16);
  EXPECT_EQ(bf16_mixed::compute_dtype, DType::f32);
  EXPECT_EQ(bf16_mixed::master_dtype, DType::f32);
  EXPECT_EQ(fp16_mixed::param_dtype, DType::f16);
  EXPECT_EQ(fp16_mixed::compute_dtype, DType::f32);
  EXPECT_EQ(fp16_mixed::master_dtype, DType::f32);
  EXPECT_EQ(std::string(fp64::name), "fp64");
  EXPECT_EQ(std::string(fp32::name), "fp32");
  EXPECT_EQ(std::string(bf16_mixed::name), "bf16");
  EXPECT_EQ(std::string(fp16_mixed::name), "fp16");
  EXPECT_EQ(fp32_scaled::compute_dtype, DType::f64);
  EXPECT_TRUE(accepts_policy<fp16_mixed>());
  EXPECT_FALSE(accepts_policy<NotAPolicy>());
  EXPECT_TRUE(is_mixed<bf16_mixed>);
  EXPECT_FALSE(is_mixed<fp32>);
}

TEST(Policy, DTypeHelpers) {
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::f16), 2u);
  EXPECT_EQ(sizeof(bf16), 2u);
  EXPECT_EQ(sizeof(f16), 2u);
  EXPECT_EQ(dtype_name(DType::i64), "i64");
  EXPECT_TRUE(is_floating(DType::bf16));
  EXPECT_FALSE(is_floating(DType::i32));
  EXPECT_EQ(dtype_of<std::int32_t>(), DType::i32);
  EXPECT_EQ(visit_dtype(DType::f16, [](auto z) { return sizeof(z); }), 2u);
  EXPECT_EQ(visit_dtype(DType::i64, [](auto z) { return dtype_of<decltype(z)>(); }), DType::i64);
}

TEST(Tolerance, ForEachDType) {
  for (DType t : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    const Tolerance tol = tolerance_for(t);
    EXPECT_GT(tol.atol, 0.0) << dtype_name(t);
    EXPECT_GT(tol.rtol, 0.0) << dtype_name(t);
  }
  EXPECT_EQ(tolerance_for(DType::f64).rtol, 1e-10);
  EXPECT_EQ(tolerance_for(DType::f32).rtol, 1e-5);
  EXPECT_EQ(tolerance_for(DType::bf16).rtol, 1e-2);
  EXPECT_EQ(tolerance_for(DType::f16).atol, 1e-3);
  // Ordered from tight to loose, and each 16-bit tolerance covers a few of its own ulps at 1.
  EXPECT_LT(tolerance_for(DType::f64).rtol, tolerance_for(DType::f32).rtol);
  EXPECT_LT(tolerance_for(DType::f32).rtol, tolerance_for(DType::f16).rtol);
  EXPECT_LE(tolerance_for(DType::f16).rtol, tolerance_for(DType::bf16).rtol);
  EXPECT_GE(tolerance_for(DType::bf16).rtol, 2 * std::ldexp(1.0, -8));
  EXPECT_GE(tolerance_for(DType::f16).rtol, 4 * std::ldexp(1.0, -11));
  EXPECT_EQ(tolerance_for(DType::i64).atol, 0.0);
  static_assert(tolerance_for(DType::f32).atol == 1e-6);  // usable in constant expressions
}

TEST(LossScale, NoAndStaticSkipOnInf) {
  NoLossScale none;
  EXPECT_EQ(none.scale(), 1.0);
  EXPECT_TRUE(none.update(false));
  EXPECT_FALSE(none.update(true));
  EXPECT_EQ(none.scale(), 1.0);
  StaticLossScale st{1024.0};
  EXPECT_EQ(st.scale(), 1024.0);
  EXPECT_FALSE(st.update(true));
  EXPECT_EQ(st.scale(), 1024.0);  // never changes
  for (int i = 0; i < 5000; ++i) EXPECT_TRUE(st.update(false));
  EXPECT_EQ(st.scale(), 1024.0);
  EXPECT_EQ(StaticLossScale{}.scale(), 128.0);
}

TEST(LossScale, DynamicDefaultsAreTheEvaClipRecipe) {
  const DynamicLossScale d;
  EXPECT_EQ(d.scale(), 65536.0);
  EXPECT_EQ(d.growth_interval, 1000);
  EXPECT_EQ(d.hysteresis, 2);
  EXPECT_EQ(d.overflows_since_growth, 0);
  EXPECT_EQ(d.min_scale, 1.0);
}

TEST(LossScale, DynamicGrowsAfterIntervalOfGoodSteps) {
  DynamicLossScale d{.value = 8.0, .growth_interval = 3};
  EXPECT_TRUE(d.update(false));
  EXPECT_TRUE(d.update(false));
  EXPECT_EQ(d.scale(), 8.0);
  EXPECT_TRUE(d.update(false));  // third good step: grows
  EXPECT_EQ(d.scale(), 16.0);
  for (int i = 0; i < 3; ++i) d.update(false);
  EXPECT_EQ(d.scale(), 32.0);
  // An overflow restarts the count of good steps.
  d.update(false);
  d.update(false);
  EXPECT_FALSE(d.update(true));
  d.update(false);
  d.update(false);
  EXPECT_EQ(d.scale(), 32.0);
  d.update(false);
  EXPECT_EQ(d.scale(), 64.0);
}

TEST(LossScale, DynamicBackoffWithHysteresis) {
  DynamicLossScale d{.value = 1024.0, .growth_interval = 4};
  EXPECT_FALSE(d.update(true));  // first overflow: skip, scale kept
  EXPECT_EQ(d.scale(), 1024.0);
  EXPECT_FALSE(d.update(true));  // second: skip and halve
  EXPECT_EQ(d.scale(), 512.0);
  EXPECT_FALSE(d.update(true));  // hysteresis spent: every further overflow halves
  EXPECT_EQ(d.scale(), 256.0);
  // Good steps in between do not restore the hysteresis budget; only growth does.
  EXPECT_TRUE(d.update(false));
  EXPECT_FALSE(d.update(true));
  EXPECT_EQ(d.scale(), 128.0);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(d.update(false));
  EXPECT_EQ(d.scale(), 256.0);
  EXPECT_EQ(d.overflows_since_growth, 0);
  EXPECT_FALSE(d.update(true));  // budget restored: keep
  EXPECT_EQ(d.scale(), 256.0);
  EXPECT_FALSE(d.update(true));
  EXPECT_EQ(d.scale(), 128.0);
}

TEST(LossScale, DynamicHysteresisOneAndCustomFactors) {
  DynamicLossScale d{.value = 100.0, .growth_interval = 2, .growth = 4.0, .backoff = 0.25, .hysteresis = 1};
  EXPECT_FALSE(d.update(true));     // no hysteresis: the first overflow already backs off
  EXPECT_EQ(d.scale(), 25.0);
  d.update(false);
  d.update(false);
  EXPECT_EQ(d.scale(), 100.0);
  DynamicLossScale h3{.value = 64.0, .hysteresis = 3};
  h3.update(true);
  h3.update(true);
  EXPECT_EQ(h3.scale(), 64.0);
  h3.update(true);
  EXPECT_EQ(h3.scale(), 32.0);
}

TEST(LossScale, DynamicMinScaleFloor) {
  DynamicLossScale d{.value = 4.0, .min_scale = 1.0};
  int skipped = 0;
  for (int i = 0; i < 10; ++i) skipped += !d.update(true);
  EXPECT_EQ(skipped, 10);  // every overflow skips, even at the floor
  EXPECT_EQ(d.scale(), 1.0);
  DynamicLossScale e{.value = 3.0, .hysteresis = 1, .min_scale = 2.0};
  EXPECT_FALSE(e.update(true));
  EXPECT_EQ(e.scale(), 2.0);  // 1.5 clamps to the floor
  EXPECT_TRUE(e.update(false));
  EXPECT_EQ(e.scale(), 2.0);
}
