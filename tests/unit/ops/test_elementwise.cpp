// Tests add, mul and scale: broadcasting forward against loops, gradients, reduced precision, errors.
#include <omp.h>

#include "common/test_util.hpp"
#include "evaclip/ops/elementwise.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
using Fn = std::function<Var(Tape<fp64>&, const Var&, const Var&)>;

// ref(b, t, d) = op(a(b, t, d), other(t, d)) for a (B, T, D) and other of any broadcast form of (T, D)
// values: `other` is indexed by t * D + d over its own contiguous data.
Tensor broadcast_ref(const Tensor& a, const Tensor& other, bool multiply) {
  Tensor ref = Tensor::empty(a.shape(), DType::f64);
  auto av = a.view<double>(), rv = ref.view<double>();
  const auto ov = other.to_vector();
  const std::int64_t Bn = a.shape()[0], T = a.shape()[1], D = a.shape()[2], period = std::int64_t(ov.size());
  for (std::int64_t b = 0; b < Bn; ++b)
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t d = 0; d < D; ++d) {
        const double o = ov[std::size_t(((b * T + t) * D + d) % period)];
        rv(b, t, d) = multiply ? av(b, t, d) * o : av(b, t, d) + o;
      }
  return ref;
}
}  // namespace

TEST(Add, ForwardBroadcastsOverLeadingDims) {
  const Tensor a = randn({2, 3, 4}, DType::f64, 1);
  Tape<fp64> tape;
  for (const Shape& bs : std::vector<Shape>{{2, 3, 4}, {3, 4}, {1, 3, 4}, {4}, {1, 1, 4}, {1}, {}}) {
    const Tensor b = randn(bs, DType::f64, 2);
    const Var y = add(tape, Var(a), Var(b));
    EXPECT_TRUE(allclose(broadcast_ref(a, b, false), y.value(), 0, 0)) << "b " << to_string(bs);
  }
}

TEST(Add, GradientsMatchFiniteDifferences) {
  for (const Shape& bs : std::vector<Shape>{{2, 3, 4}, {1, 3, 4}, {3, 4}, {4}}) {
    auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return add(t, v[0], v[1]); };
    const auto rep = gradcheck(f, {randn({2, 3, 4}, DType::f64, 3), randn(bs, DType::f64, 4)});
    EXPECT_TRUE(rep.ok) << to_string(bs) << ": " << rep.worst;
  }
}

TEST(Add, BiasGradientIsTheExactRowSum) {
  // 300 rows span several column_reduce blocks; the db must equal the row sum of dy.
  Tape<fp64> tape;
  const Var a(randn({300, 5}, DType::f64, 5), true), b(randn({5}, DType::f64, 6), true);
  const Tensor dy = randn({300, 5}, DType::f64, 7);
  tape.backward(add(tape, a, b), dy.clone());
  Tensor ref = Tensor::zeros({5}, DType::f64);
  auto rv = ref.view<double>(), gv = dy.view<double>();
  for (int r = 0; r < 300; ++r)
    for (int j = 0; j < 5; ++j) rv(j) += gv(r, j);
  EXPECT_TRUE(allclose(ref, b.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(allclose(dy, a.grad(), 0, 0));
}

TEST(Add, BiasGradientIsBitIdenticalForAnyThreadCount) {
  auto grad_of_b = [](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Tape<fp32> tape;
    const Var a(randn({1000, 8}, DType::f32, 5)), b(randn({8}, DType::f32, 6), true);
    tape.backward(add(tape, a, b), randn({1000, 8}, DType::f32, 7));
    omp_set_num_threads(saved);
    return b.grad().to_vector();
  };
  const auto one = grad_of_b(1);
  for (int threads : {2, 3, 8}) EXPECT_EQ(one, grad_of_b(threads)) << threads << " threads";
}

TEST(Add, ReducedPrecisionMatchesFp32WithinTolerance) {
  const Tensor a = randn({4, 8, 32}, DType::f32, 8), b = randn({8, 32}, DType::f32, 9);
  Tape<fp32> t32;
  const Var y32 = add(t32, Var(a), Var(b));
  Tape<bf16_mixed> tb;
  const Var yb = add(tb, Var(a.to(DType::bf16)), Var(b.to(DType::bf16)));
  Tape<fp16_mixed> th;
  const Var yh = add(th, Var(a.to(DType::f16)), Var(b.to(DType::f16)));
  EXPECT_EQ(yb.dtype(), DType::bf16);
  // a, b and y are each rounded once to the 16-bit type: error <= half an ulp of each, about
  // 2^-9 (|a| + |b| + |y|) for bf16 and 2^-12 (...) for f16, with |a|, |b| <~ 4 here.
  EXPECT_TRUE(allclose(y32.value(), yb.value(), 3e-2, 1e-2));
  EXPECT_TRUE(allclose(y32.value(), yh.value(), 4e-3, 2e-3));
}

TEST(Add, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var a(randn({2, 3, 4}, DType::f32));
  EXPECT_THROW_MSG(add(tape, a, Var(randn({3, 5}, DType::f32))),
                   "add: b has shape (3, 5) which does not broadcast over a (2, 3, 4)");
  EXPECT_THROW_MSG(add(tape, a, Var(randn({2, 1, 4}, DType::f32))), "add: b has shape (2, 1, 4)");
  EXPECT_THROW_MSG(add(tape, a, Var(randn({1, 2, 3, 4}, DType::f32))), "add: b has shape (1, 2, 3, 4)");
  EXPECT_THROW_MSG(add(tape, a, Var(randn({4}, DType::f64))), "add: b (4,) is f64");
}

TEST(Mul, ForwardBroadcastsLayerScale) {
  const Tensor x = randn({2, 3, 4}, DType::f64, 10);
  Tape<fp64> tape;
  for (const Shape& gs : std::vector<Shape>{{4}, {3, 4}, {2, 3, 4}}) {
    const Tensor g = randn(gs, DType::f64, 11);
    EXPECT_TRUE(allclose(broadcast_ref(x, g, true), mul(tape, Var(x), Var(g)).value(), 0, 0)) << to_string(gs);
  }
}

TEST(Mul, GradientsMatchFiniteDifferences) {
  for (const Shape& gs : std::vector<Shape>{{4}, {1, 3, 4}, {2, 3, 4}}) {
    auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return mul(t, v[0], v[1]); };
    const auto rep = gradcheck(f, {randn({2, 3, 4}, DType::f64, 12), randn(gs, DType::f64, 13)});
    EXPECT_TRUE(rep.ok) << to_string(gs) << ": " << rep.worst;
  }
}

TEST(Mul, BadShapesNameTheOp) {
  Tape<fp32> tape;
  EXPECT_THROW_MSG(mul(tape, Var(randn({2, 4}, DType::f32)), Var(randn({5}, DType::f32))),
                   "mul: g has shape (5,) which does not broadcast over x (2, 4)");
}

TEST(Scale, ConstantForwardAndGradient) {
  const Tensor x = randn({3, 5}, DType::f64, 14);
  Tape<fp64> tape;
  const Var y = scale(tape, Var(x), -2.5);
  Tensor ref = Tensor::empty({3, 5}, DType::f64);
  auto xv = x.view<double>(), rv = ref.view<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) rv(i, j) = -2.5 * xv(i, j);
  EXPECT_TRUE(allclose(ref, y.value(), 0, 0));
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return scale(t, v[0], 0.75); };
  const auto rep = gradcheck(f, {x});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Scale, LearntScalarForwardAndGradients) {
  const Tensor x = randn({4, 6}, DType::f64, 15);
  const Tensor s = Tensor::from<double>({}, DType::f64, {3.0});
  Tape<fp64> tape;
  const Var y = scale(tape, Var(x), Var(s));
  const auto xv = x.to_vector(), yv = y.value().to_vector();
  for (std::size_t i = 0; i < xv.size(); ++i) EXPECT_EQ(yv[i], 3.0 * xv[i]);
  for (const Shape& ss : std::vector<Shape>{{}, {1}, {1, 1}}) {
    auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return scale(t, v[0], v[1]); };
    const auto rep = gradcheck(f, {randn({40, 7}, DType::f64, 16), randn(ss, DType::f64, 17)});
    EXPECT_TRUE(rep.ok) << to_string(ss) << ": " << rep.worst;
  }
}

TEST(Scale, ScalarNeedsOneElement) {
  Tape<fp32> tape;
  EXPECT_THROW_MSG(scale(tape, Var(randn({2, 4}, DType::f32)), Var(randn({2}, DType::f32))),
                   "scale: s has shape (2,), expected a single element");
}
