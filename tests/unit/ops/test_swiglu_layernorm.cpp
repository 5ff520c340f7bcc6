// Tests swiglu_layernorm: bit-identical to swiglu() then layernorm(), gradients of every input against
// finite differences, errors naming the op.
#include <cstring>

#include "common/test_util.hpp"
#include "evaclip/ops/swiglu_layernorm.hpp"

using namespace evaclip;
using evaclip::test::randn;

namespace {
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

template <class P>
void expect_bit_identical_to_composition(DType dt, bool bias, Shape s) {
  const std::int64_t F = s.back();
  const Tensor a = randn(s, DType::f32, 1, 2.0).to(dt), g = randn(s, DType::f32, 2).to(dt);
  const Tensor w = randn({F}, DType::f32, 3).to(dt), b = randn({F}, DType::f32, 4).to(dt);
  Tape<P> tape;
  const Var bv = bias ? Var(b) : Var();
  const Var fused = swiglu_layernorm(tape, Var(a), Var(g), Var(w), bv, 1e-6);
  const Var y = layernorm(tape, swiglu(tape, Var(a), Var(g)), Var(w), bv, 1e-6);
  EXPECT_TRUE(same_bits(y.value(), fused.value())) << to_string(s);
}
}  // namespace

TEST(SwiGluLayerNorm, BitIdenticalToSwiGluThenLayerNorm) {
  expect_bit_identical_to_composition<fp32>(DType::f32, true, {2, 5, 64});
  expect_bit_identical_to_composition<bf16_mixed>(DType::bf16, true, {3, 7, 2730});
  expect_bit_identical_to_composition<bf16_mixed>(DType::bf16, false, {4, 33});
  expect_bit_identical_to_composition<fp16_mixed>(DType::f16, true, {5, 48});
  // More rows than one block of the forward's temporary (4M elements / 2048 = 2048 rows).
  expect_bit_identical_to_composition<bf16_mixed>(DType::bf16, true, {2051, 2048});
}

TEST(SwiGluLayerNorm, GradientsOfEveryInputMatchFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return swiglu_layernorm(t, v[0], v[1], v[2], v[3], 1e-5); };
  const auto rep = gradcheck(f, {randn({4, 9}, DType::f64, 5, 2.0), randn({4, 9}, DType::f64, 6),
                                 randn({9}, DType::f64, 7), randn({9}, DType::f64, 8)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(SwiGluLayerNorm, WithoutBiasAndMatchesTheCompositionsGradients) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return swiglu_layernorm(t, v[0], v[1], v[2], Var(), 1e-5); };
  const auto rep = gradcheck(f, {randn({2, 3, 6}, DType::f64, 9, 2.0), randn({2, 3, 6}, DType::f64, 10),
                                 randn({6}, DType::f64, 11)});
  EXPECT_TRUE(rep.ok) << rep.worst;
  // Only the value needs a gradient: the gate gets none, the value's equals the composition's.
  Tape<fp64> tape;
  const Var a(randn({3, 6}, DType::f64, 12, 2.0)), g(randn({3, 6}, DType::f64, 13), true);
  const Var w(randn({6}, DType::f64, 14)), b(randn({6}, DType::f64, 15));
  const Tensor seed = randn({3, 6}, DType::f64, 16);
  tape.backward(swiglu_layernorm(tape, a, g, w, b, 1e-5), seed.clone());
  EXPECT_FALSE(a.has_grad());
  ASSERT_TRUE(g.has_grad());
  Tape<fp64> ref;
  const Var g2(g.value(), true);
  ref.backward(layernorm(ref, swiglu(ref, a, g2), w, b, 1e-5), seed.clone());
  EXPECT_TRUE(evaclip::test::allclose(g2.grad(), g.grad(), 1e-14, 1e-12));
}

TEST(SwiGluLayerNorm, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var a(randn({2, 8}, DType::f32)), w(randn({8}, DType::f32)), b(randn({8}, DType::f32));
  EXPECT_THROW_MSG(swiglu_layernorm(tape, a, Var(randn({2, 9}, DType::f32)), w, b, 1e-6),
                   "swiglu_layernorm: value has shape (2, 9), expected (2, 8)");
  EXPECT_THROW_MSG(swiglu_layernorm(tape, a, a, Var(randn({7}, DType::f32)), b, 1e-6),
                   "swiglu_layernorm: weight has shape (7,), expected (8,)");
  EXPECT_THROW_MSG(swiglu_layernorm(tape, a, a, w, Var(randn({3}, DType::f32)), 1e-6),
                   "swiglu_layernorm: bias has shape (3,), expected (8,)");
  EXPECT_THROW_MSG(swiglu_layernorm(tape, Var(randn({2, 8}, DType::f64)), a, w, b, 1e-6),
                   "swiglu_layernorm: gate (2, 8) is f64");
}
