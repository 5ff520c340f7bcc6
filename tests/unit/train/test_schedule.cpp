// warmup_cosine (docs/model-spec.md §5) against the formula written out here, at the warmup boundary and the last step.
#include <cmath>

#include "common/test_util.hpp"
#include "evaclip/train/schedule.hpp"

using namespace evaclip;
using evaclip::train::warmup_cosine;

TEST(Schedule, WarmupIsLinearFromOneStep) {
  // lr = base (step + 1) / 2000 during the 2000 warmup steps of the recipe.
  EXPECT_DOUBLE_EQ(warmup_cosine(0, 2000, 100000), 1.0 / 2000);
  EXPECT_DOUBLE_EQ(warmup_cosine(999, 2000, 100000), 0.5);
  EXPECT_DOUBLE_EQ(warmup_cosine(1999, 2000, 100000), 1.0);
}

TEST(Schedule, CosineAfterWarmup) {
  const double pi = std::acos(-1.0);
  const std::int64_t w = 2000, S = 100000;
  for (std::int64_t s : {w, w + 1, std::int64_t(51000), S - 1, S}) {
    const double want = 0.5 * (1 + std::cos(pi * double(s - w) / double(S - w)));
    EXPECT_NEAR(warmup_cosine(s, w, S), want, 1e-15) << "step " << s;
  }
  EXPECT_EQ(warmup_cosine(w, w, S), 1.0);                  // the first cosine step is the peak
  EXPECT_NEAR(warmup_cosine(51000, w, S), 0.5, 1e-15);     // halfway through the decay
  EXPECT_NEAR(warmup_cosine(S, w, S), 0.0, 1e-15);
  EXPECT_DOUBLE_EQ(warmup_cosine(0, 0, 4), 1.0);           // no warmup
  EXPECT_NEAR(warmup_cosine(1, 0, 4), 0.5 * (1 + std::sqrt(0.5)), 1e-15);
}

TEST(Schedule, OutOfRangeStepsAreErrors) {
  EXPECT_THROW_MSG(warmup_cosine(-1, 10, 100), "step -1");
  EXPECT_THROW_MSG(warmup_cosine(101, 10, 100), "past the schedule");
  EXPECT_THROW_MSG(warmup_cosine(10, 10, 10), "past the schedule");
  EXPECT_DOUBLE_EQ(warmup_cosine(4, 10, 5), 0.5);  // a run shorter than its warmup stays on the ramp
}
