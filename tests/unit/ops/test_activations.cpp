// Tests gelu, silu and swiglu: forward against std::erf / std::exp formulas, gradients, reduced precision.
#include "common/test_util.hpp"
#include "evaclip/ops/activations.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// ref[i] = f(x[i], i), element by element (i lets f read a second tensor).
template <class F>
Tensor map_ref(const Tensor& x, F f) {
  Tensor ref = Tensor::empty(x.shape(), DType::f64);
  const auto xv = x.to_vector();
  double* r = ref.data<double>();
  for (std::size_t i = 0; i < xv.size(); ++i) r[i] = f(xv[i], i);
  return ref;
}
double gelu_ref(double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }
double silu_ref(double v) { return v / (1 + std::exp(-v)); }
}  // namespace

TEST(Gelu, ForwardMatchesErfFormula) {
  const Tensor x = randn({4, 33}, DType::f64, 1, 3.0);
  Tape<fp64> tape;
  EXPECT_TRUE(allclose(map_ref(x, [](double v, std::size_t) { return gelu_ref(v); }), gelu(tape, Var(x)).value(), 1e-15,
                       1e-14));
  // Known values: gelu(0) = 0, gelu(1) = Φ(1) = 0.8413447460685429, gelu(-1) = -(1 - Φ(1)).
  const Var y = gelu(tape, Var(Tensor::from<double>({3}, DType::f64, {0.0, 1.0, -1.0})));
  const auto yv = y.value().to_vector();
  EXPECT_EQ(yv[0], 0.0);
  EXPECT_NEAR(yv[1], 0.8413447460685429, 1e-15);
  EXPECT_NEAR(yv[2], -0.15865525393145707, 1e-15);
}

TEST(Gelu, GradientMatchesFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return gelu(t, v[0]); };
  const auto rep = gradcheck(f, {randn({3, 11}, DType::f64, 2, 2.0)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Silu, ForwardAndGradient) {
  const Tensor x = randn({5, 9}, DType::f64, 3, 4.0);
  Tape<fp64> tape;
  EXPECT_TRUE(allclose(map_ref(x, [](double v, std::size_t) { return silu_ref(v); }), silu(tape, Var(x)).value(), 1e-15,
                       1e-14));
  // Far tails: no NaN from exp overflow, silu(-800) -> 0, silu(800) = 800.
  const auto tails = silu(tape, Var(Tensor::from<double>({2}, DType::f64, {-800.0, 800.0}))).value().to_vector();
  EXPECT_EQ(tails[0], 0.0);
  EXPECT_EQ(tails[1], 800.0);
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return silu(t, v[0]); };
  const auto rep = gradcheck(f, {randn({3, 11}, DType::f64, 4, 2.0)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(SwiGlu, ForwardIsSiluOfGateTimesValue) {
  const Tensor a = randn({2, 3, 8}, DType::f64, 5, 2.0), g = randn({2, 3, 8}, DType::f64, 6);
  const auto gv = g.to_vector();
  Tape<fp64> tape;
  const Tensor ref = map_ref(a, [&](double v, std::size_t i) { return silu_ref(v) * gv[i]; });
  EXPECT_TRUE(allclose(ref, swiglu(tape, Var(a), Var(g)).value(), 1e-15, 1e-14));
}

TEST(SwiGlu, GradientsMatchFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return swiglu(t, v[0], v[1]); };
  const auto rep = gradcheck(f, {randn({4, 6}, DType::f64, 7, 2.0), randn({4, 6}, DType::f64, 8)});
  EXPECT_TRUE(rep.ok) << rep.worst;
  // Only the value needs a gradient: the gate's is not computed, the value's still is.
  Tape<fp64> tape;
  const Var a(randn({4, 6}, DType::f64, 7)), g(randn({4, 6}, DType::f64, 8), true);
  tape.backward(swiglu(tape, a, g));
  EXPECT_FALSE(a.has_grad());
  EXPECT_TRUE(allclose(map_ref(a.value(), [](double v, std::size_t) { return silu_ref(v); }), g.grad(), 1e-15, 1e-14));
}

namespace {
// 16-bit activations are stored rounded and computed in float: the result is gelu of the rounded input,
// rounded once, so the error is about one ulp of the type on the value plus |f'| times the input's rounding.
template <class P>
void expect_activations_match_fp32(DType dt, Tolerance tol) {
  const Tensor x = randn({8, 64}, DType::f32, 9, 2.0), g = randn({8, 64}, DType::f32, 10);
  Tape<fp32> t32;
  Tape<P> t16;
  const Var x16(x.to(dt)), g16(g.to(dt));
  EXPECT_EQ(gelu(t16, x16).dtype(), dt);
  EXPECT_TRUE(allclose(gelu(t32, Var(x)).value(), gelu(t16, x16).value(), tol)) << "gelu " << dtype_name(dt);
  EXPECT_TRUE(allclose(silu(t32, Var(x)).value(), silu(t16, x16).value(), tol)) << "silu " << dtype_name(dt);
  EXPECT_TRUE(allclose(swiglu(t32, Var(x), Var(g)).value(), swiglu(t16, x16, g16).value(), tol.atol * 3, tol.rtol * 2))
      << "swiglu " << dtype_name(dt);
}
}  // namespace

TEST(Gelu, ReducedPrecisionMatchesFp32WithinTolerance) {
  expect_activations_match_fp32<bf16_mixed>(DType::bf16, {2e-2, 1e-2});
  expect_activations_match_fp32<fp16_mixed>(DType::f16, {3e-3, 2e-3});
}

TEST(SwiGlu, BadShapesNameTheOp) {
  Tape<fp32> tape;
  EXPECT_THROW_MSG(swiglu(tape, Var(randn({2, 8}, DType::f32)), Var(randn({2, 4}, DType::f32))),
                   "swiglu: value has shape (2, 4), expected (2, 8)");
  EXPECT_THROW_MSG(gelu(tape, Var(randn({2}, DType::f64))), "gelu: x (2,) is f64");
}
