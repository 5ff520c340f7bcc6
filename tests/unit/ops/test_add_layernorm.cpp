// Tests add_layernorm: bit-identical to add() then layernorm(), gradients of every input against finite
// differences (with either output's gradient absent), errors naming the op.
#include <cstring>

#include "common/test_util.hpp"
#include "evaclip/ops/add_layernorm.hpp"

using namespace evaclip;
using evaclip::test::randn;

namespace {
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

template <class P>
void expect_bit_identical_to_composition(DType dt, bool bias) {
  // Residual stream and branch of different scales, so the rounded sum differs from the exact one.
  const Tensor x = randn({3, 7, 96}, DType::f32, 1, 4.0).to(dt), r = randn({3, 7, 96}, DType::f32, 2, 0.3).to(dt);
  const Tensor w = randn({96}, DType::f32, 3).to(dt), b = randn({96}, DType::f32, 4).to(dt);
  Tape<P> tape;
  const Var bv = bias ? Var(b) : Var();
  const AddNorm fused = add_layernorm(tape, Var(x), Var(r), Var(w), bv, 1e-6);
  const Var sum = add(tape, Var(x), Var(r));
  const Var y = layernorm(tape, sum, Var(w), bv, 1e-6);
  EXPECT_TRUE(same_bits(sum.value(), fused.sum.value()));
  EXPECT_TRUE(same_bits(y.value(), fused.y.value()));
}
}  // namespace

TEST(AddLayerNorm, BitIdenticalToAddThenLayerNorm) {
  expect_bit_identical_to_composition<fp32>(DType::f32, true);
  expect_bit_identical_to_composition<bf16_mixed>(DType::bf16, true);
  expect_bit_identical_to_composition<bf16_mixed>(DType::bf16, false);
  expect_bit_identical_to_composition<fp16_mixed>(DType::f16, true);
}

TEST(AddLayerNorm, GradientsOfEveryInputMatchFiniteDifferences) {
  // Both outputs used, with different weights: dx = dr = 0.37 W_sum + LN-backward(W_y).
  auto both = [](Tape<fp64>& t, const std::vector<Var>& v) {
    const AddNorm o = add_layernorm(t, v[0], v[1], v[2], v[3], 1e-5);
    return add(t, scale(t, o.sum, 0.37), o.y);
  };
  const std::vector<Tensor> in = {randn({4, 7}, DType::f64, 5), randn({4, 7}, DType::f64, 6),
                                  randn({7}, DType::f64, 7), randn({7}, DType::f64, 8)};
  auto rep = gradcheck(both, in);
  EXPECT_TRUE(rep.ok) << rep.worst;
  // Only y: the sum's gradient is absent.
  auto only_y = [](Tape<fp64>& t, const std::vector<Var>& v) {
    return add_layernorm(t, v[0], v[1], v[2], v[3], 1e-5).y;
  };
  rep = gradcheck(only_y, in);
  EXPECT_TRUE(rep.ok) << rep.worst;
  // Only the sum: y's gradient is absent, so w and b get none and x, r get d_sum.
  auto only_sum = [](Tape<fp64>& t, const std::vector<Var>& v) {
    return add_layernorm(t, v[0], v[1], v[2], v[3], 1e-5).sum;
  };
  rep = gradcheck(only_sum, in);
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(AddLayerNorm, WithoutBiasAndWithOneInputConstant) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) {
    const AddNorm o = add_layernorm(t, v[0], v[1], v[2], Var(), 1e-5);
    return add(t, o.sum, scale(t, o.y, -1.3));
  };
  const auto rep = gradcheck(f, {randn({2, 3, 5}, DType::f64, 9), randn({2, 3, 5}, DType::f64, 10),
                                 randn({5}, DType::f64, 11)});
  EXPECT_TRUE(rep.ok) << rep.worst;
  // x constant: only r (and w) get gradients; r's equals the composition's.
  Tape<fp64> tape;
  const Var x(randn({3, 6}, DType::f64, 12)), r(randn({3, 6}, DType::f64, 13), true), w(randn({6}, DType::f64, 14), true);
  const AddNorm o = add_layernorm(tape, x, r, w, Var(), 1e-5);
  tape.backward(add(tape, o.sum, o.y));
  EXPECT_FALSE(x.has_grad());
  ASSERT_TRUE(r.has_grad());
  Tape<fp64> ref;
  const Var r2(r.value(), true), w2(w.value(), true);
  const Var s2 = add(ref, x, r2);
  ref.backward(add(ref, s2, layernorm(ref, s2, w2, Var(), 1e-5)));
  EXPECT_TRUE(evaclip::test::allclose(r2.grad(), r.grad(), 1e-14, 1e-12));
  EXPECT_TRUE(evaclip::test::allclose(w2.grad(), w.grad(), 1e-14, 1e-12));
}

TEST(AddLayerNorm, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var x(randn({2, 8}, DType::f32)), w(randn({8}, DType::f32)), b(randn({8}, DType::f32));
  EXPECT_THROW_MSG(add_layernorm(tape, x, Var(randn({2, 7}, DType::f32)), w, b, 1e-6),
                   "add_layernorm: r has shape (2, 7), expected (2, 8)");
  EXPECT_THROW_MSG(add_layernorm(tape, x, x, Var(randn({7}, DType::f32)), b, 1e-6),
                   "add_layernorm: weight has shape (7,), expected (8,)");
  EXPECT_THROW_MSG(add_layernorm(tape, x, x, w, Var(randn({9}, DType::f32)), 1e-6),
                   "add_layernorm: bias has shape (9,), expected (8,)");
  EXPECT_THROW_MSG(add_layernorm(tape, x, Var(randn({2, 8}, DType::f64)), w, b, 1e-6), "add_layernorm: r (2, 8) is f64");
}
