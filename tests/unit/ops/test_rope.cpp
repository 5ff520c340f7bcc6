// Tests rope2d: forward against the adjacent-pair formula (prefix 1 and 0, shared and per-sample tables),
// gradients against finite differences, bf16 against fp32, and argument errors.
#include "common/test_util.hpp"
#include "evaclip/ops/rope.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// y[2j] = x[2j] c[2j] - x[2j+1] s[2j];  y[2j+1] = x[2j+1] c[2j+1] + x[2j] s[2j+1]; tokens t < prefix copied.
// cos/sin: (T - prefix, hd), or (B, T - prefix, hd) when per-sample.
Tensor rope_reference(const Tensor& x, const Tensor& cos, const Tensor& sin, std::int64_t prefix) {
  const bool per_sample = cos.rank() == 3;
  const std::int64_t B = x.size(0), H = x.size(1), T = x.size(2), hd = x.size(3);
  Tensor y = Tensor::empty(x.shape(), DType::f64);
  auto xv = x.view<double>(), yv = y.view<double>(), cv = cos.view<double>(), sv = sin.view<double>();
  auto c = [&](std::int64_t b, std::int64_t r, std::int64_t i) { return per_sample ? cv(b, r, i) : cv(r, i); };
  auto s = [&](std::int64_t b, std::int64_t r, std::int64_t i) { return per_sample ? sv(b, r, i) : sv(r, i); };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t j = 0; j < hd / 2; ++j) {
          const double x0 = xv(b, h, t, 2 * j), x1 = xv(b, h, t, 2 * j + 1);
          if (t < prefix) {
            yv(b, h, t, 2 * j) = x0;
            yv(b, h, t, 2 * j + 1) = x1;
            continue;
          }
          const std::int64_t r = t - prefix;
          yv(b, h, t, 2 * j) = x0 * c(b, r, 2 * j) - x1 * s(b, r, 2 * j);
          yv(b, h, t, 2 * j + 1) = x1 * c(b, r, 2 * j + 1) + x0 * s(b, r, 2 * j + 1);
        }
  return y;
}

struct RopeCase {
  std::int64_t prefix;
  bool per_sample;
};
const RopeCase kCases[] = {{1, false}, {0, false}, {1, true}, {0, true}};

// Random tables (not a true rotation, and cos[2j] != cos[2j+1]) so every per-element use is checked.
Shape table_shape(const RopeCase& rc, std::int64_t B, std::int64_t T, std::int64_t hd) {
  return rc.per_sample ? Shape{B, T - rc.prefix, hd} : Shape{T - rc.prefix, hd};
}
}  // namespace

TEST(Rope2d, ForwardMatchesAdjacentPairFormula) {
  for (const RopeCase& rc : kCases) {
    const Tensor x = randn({2, 3, 5, 8}, DType::f64, 1);
    const Tensor cos = randn(table_shape(rc, 2, 5, 8), DType::f64, 2),
                 sin = randn(table_shape(rc, 2, 5, 8), DType::f64, 3);
    Tape<fp64> tape;
    const Var y = rope2d(tape, Var(x), cos, sin, rc.prefix);
    EXPECT_TRUE(allclose(rope_reference(x, cos, sin, rc.prefix), y.value(), 1e-14, 1e-14))
        << "prefix " << rc.prefix << " per_sample " << rc.per_sample;
  }
}

TEST(Rope2d, ClsTokenPassesThroughUnchanged) {
  const Tensor x = randn({1, 2, 4, 4}, DType::f64, 4);
  Tape<fp64> tape;
  const Var y = rope2d(tape, Var(x), randn({3, 4}, DType::f64, 5), randn({3, 4}, DType::f64, 6), 1);
  EXPECT_TRUE(allclose(x.slice(2, 0, 1), y.value().slice(2, 0, 1), 0, 0));
  EXPECT_FALSE(allclose(x.slice(2, 1, 2), y.value().slice(2, 1, 2), 1e-3, 0));
}

TEST(Rope2d, GradientMatchesFiniteDifferences) {
  for (const RopeCase& rc : kCases) {
    const Tensor cos = randn(table_shape(rc, 2, 4, 6), DType::f64, 7),
                 sin = randn(table_shape(rc, 2, 4, 6), DType::f64, 8);
    auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return rope2d(t, v[0], cos, sin, rc.prefix); };
    const auto rep = gradcheck(f, {randn({2, 2, 4, 6}, DType::f64, 9)});
    EXPECT_TRUE(rep.ok) << "prefix " << rc.prefix << " per_sample " << rc.per_sample << ": " << rep.worst;
  }
}

TEST(Rope2d, Bf16MatchesFp32WithinTolerance) {
  // Both policies use the fp32 tables; bf16 rounds x and y (relative 2^-9 each), so the error is about
  // 2^-9 (|x0| + |x1| + |y|): within 2e-2 + 1e-2 |y| for N(0, 1) inputs.
  const Tensor x = randn({2, 4, 9, 16}, DType::f32, 10);
  Rng rng(11);
  const Tensor angle = Tensor::uniform({8, 16}, DType::f64, rng, -3.0, 3.0);
  std::vector<double> c, s;
  for (double a : angle.to_vector()) c.push_back(std::cos(a)), s.push_back(std::sin(a));
  const Tensor cos = Tensor::from({8, 16}, DType::f32, c), sin = Tensor::from({8, 16}, DType::f32, s);
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const Var y32 = rope2d(t32, Var(x), cos, sin, 1);
  const Var y16 = rope2d(t16, Var(x.to(DType::bf16)), cos, sin, 1);
  EXPECT_EQ(y16.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(y32.value(), y16.value(), 2e-2, 1e-2));
}

TEST(Rope2d, BadArgumentsNameTheOp) {
  Tape<fp32> tape;
  const Var x(randn({2, 3, 5, 8}, DType::f32));
  const Tensor good = randn({4, 8}, DType::f32);
  EXPECT_THROW_MSG(rope2d(tape, x, randn({5, 8}, DType::f32), good, 1),
                   "rope2d: cos has shape (5, 8), expected (4, 8) for x (2, 3, 5, 8) with prefix 1");
  EXPECT_THROW_MSG(rope2d(tape, x, good, randn({3, 4, 8}, DType::f32), 1),
                   "rope2d: sin has shape (3, 4, 8), expected (4, 8)");
  EXPECT_THROW_MSG(rope2d(tape, x, randn({3, 4, 8}, DType::f32), randn({3, 4, 8}, DType::f32), 1),
                   "rope2d: cos has shape (3, 4, 8), expected (2, 4, 8)");
  EXPECT_THROW_MSG(rope2d(tape, x, good.to(DType::f64), good, 1),
                   "rope2d: cos (4, 8) is f64 but the fp32 policy computes in f32");
  EXPECT_THROW_MSG(rope2d(tape, Var(randn({2, 3, 5, 7}, DType::f32)), good, good, 1), "rope2d: head dim 7");
  EXPECT_THROW_MSG(rope2d(tape, x, good, good, 6), "rope2d: prefix 6 out of range");
  EXPECT_THROW_MSG(rope2d(tape, Var(randn({3, 5, 8}, DType::f32)), good, good, 1), "rope2d: x has shape (3, 5, 8)");
}
