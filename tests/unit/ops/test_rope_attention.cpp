// Tests rope_attention: forward and backward bit-identical to rope2d + rope2d + attention (fp32, bf16, fp64;
// RoPE with prefix 0/1, shared and per-sample tables; causal or not; no RoPE = attention), the fusion switch
// leaving the CPU result as it is, gradients against finite differences, and argument errors.
#include "common/test_util.hpp"
#include "evaclip/ops/attention.hpp"
#include "evaclip/ops/rope.hpp"
#include "evaclip/ops/rope_attention.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
struct RopeAttentionCase {
  bool rope;
  std::int64_t prefix;
  bool per_sample, causal;
};
const RopeAttentionCase kRopeAttentionCases[] = {{true, 1, false, false}, {true, 0, false, true},
                                                 {true, 1, true, true},   {true, 0, true, false},
                                                 {false, 0, false, true}, {false, 1, false, false}};

std::string describe(const RopeAttentionCase& c) {
  return std::string("rope ") + (c.rope ? "1" : "0") + " prefix " + std::to_string(c.prefix) + " per_sample " +
         (c.per_sample ? "1" : "0") + " causal " + (c.causal ? "1" : "0");
}

// Random tables (not true rotations) in the compute dtype, so every per-element use is checked.
std::pair<Tensor, Tensor> tables(const RopeAttentionCase& c, std::int64_t B, std::int64_t T, std::int64_t hd, DType dt,
                                 std::uint64_t seed) {
  const Shape s = c.per_sample ? Shape{B, T - c.prefix, hd} : Shape{T - c.prefix, hd};
  return {randn(s, dt, seed), randn(s, dt, seed + 1)};
}

// The composition the op must reproduce exactly.
template <class P>
Var composed(Tape<P>& tape, const Var& q, const Var& k, const Var& v, const Tensor& cos, const Tensor& sin,
             const RopeAttentionCase& c) {
  if (!c.rope) return attention(tape, q, k, v, c.causal);
  return attention(tape, rope2d(tape, q, cos, sin, c.prefix), rope2d(tape, k, cos, sin, c.prefix), v, c.causal);
}

template <class P>
Var fused(Tape<P>& tape, const Var& q, const Var& k, const Var& v, const Tensor& cos, const Tensor& sin,
          const RopeAttentionCase& c) {
  const RopeRef rope = c.rope ? RopeRef{&cos, &sin} : RopeRef{};
  return rope_attention(tape, q, k, v, {.rope = rope, .prefix = c.prefix, .causal = c.causal});
}

// Forward and all three gradients of the op equal those of the composition, bit for bit.
template <class P>
void expect_identical_to_composition(const Shape& s) {
  for (const RopeAttentionCase& c : kRopeAttentionCases) {
    const DType act = P::act_dtype;
    const auto [cos, sin] = tables(c, s[0], s[2], s[3], P::compute_dtype, 5);
    const Tensor x[3] = {randn(s, act, 1), randn(s, act, 2), randn(s, act, 3)};
    const Tensor seed = randn(s, act, 4);
    Tape<P> ta, tb;  // one backward per tape
    std::vector<Var> a, b;
    for (const auto& t : x) a.push_back(Var::parameter(t.clone())), b.push_back(Var::parameter(t.clone()));
    const Var ref = composed(ta, a[0], a[1], a[2], cos, sin, c);
    const Var got = fused(tb, b[0], b[1], b[2], cos, sin, c);
    EXPECT_TRUE(allclose(ref.value(), got.value(), 0, 0)) << P::name << " forward, " << describe(c);
    ta.backward(ref, seed.clone());
    tb.backward(got, seed.clone());
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(allclose(a[std::size_t(i)].grad(), b[std::size_t(i)].grad(), 0, 0))
          << P::name << " gradient of input " << i << ", " << describe(c);
  }
}
}  // namespace

TEST(RopeAttention, Fp32IsBitIdenticalToTheComposedOps) { expect_identical_to_composition<fp32>({2, 3, 9, 8}); }
TEST(RopeAttention, Bf16IsBitIdenticalToTheComposedOps) { expect_identical_to_composition<bf16_mixed>({2, 2, 7, 6}); }
TEST(RopeAttention, Fp64IsBitIdenticalToTheComposedOps) { expect_identical_to_composition<fp64>({1, 2, 5, 4}); }

TEST(RopeAttention, TheCpuIgnoresTheFusionSwitch) {
  const RopeAttentionCase c{true, 1, false, true};
  const Shape s{2, 2, 6, 4};
  const auto [cos, sin] = tables(c, 2, 6, 4, DType::f32, 7);
  const Var q(randn(s, DType::f32, 8)), k(randn(s, DType::f32, 9)), v(randn(s, DType::f32, 10));
  Tape<fp32> fused_tape, unfused_tape(Cpu{.fusion = Fusion::none()});
  EXPECT_TRUE(allclose(fused(fused_tape, q, k, v, cos, sin, c).value(),
                       fused(unfused_tape, q, k, v, cos, sin, c).value(), 0, 0));
}

TEST(RopeAttention, RopeChangesTheResultAndClsStaysUnrotated) {
  // With prefix = T every token is CLS-like: the tables (0 rows) are unused and the result is attention's.
  const Shape s{1, 2, 4, 4};
  const Var q(randn(s, DType::f64, 11)), k(randn(s, DType::f64, 12)), v(randn(s, DType::f64, 13));
  Tape<fp64> tape;
  const Tensor empty = Tensor::empty({0, 4}, DType::f64);
  const Var plain = attention(tape, q, k, v, false);
  EXPECT_TRUE(
      allclose(plain.value(), rope_attention(tape, q, k, v, {.rope = {&empty, &empty}, .prefix = 4}).value(), 0, 0));
  const Tensor cos = randn({3, 4}, DType::f64, 14), sin = randn({3, 4}, DType::f64, 15);
  EXPECT_FALSE(
      allclose(plain.value(), rope_attention(tape, q, k, v, {.rope = {&cos, &sin}, .prefix = 1}).value(), 1e-3, 0));
}

TEST(RopeAttention, GradientsMatchFiniteDifferences) {
  for (const RopeAttentionCase& c : kRopeAttentionCases) {
    const auto [cos, sin] = tables(c, 2, 5, 4, DType::f64, 20);
    auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return fused(t, v[0], v[1], v[2], cos, sin, c); };
    const Shape s{2, 2, 5, 4};
    const auto rep = gradcheck(f, {randn(s, DType::f64, 21), randn(s, DType::f64, 22), randn(s, DType::f64, 23)});
    EXPECT_TRUE(rep.ok) << describe(c) << ": " << rep.worst;
  }
}

TEST(RopeAttention, BadArgumentsNameTheOp) {
  Tape<fp32> tape;
  const Var q(randn({2, 3, 5, 8}, DType::f32)), k(randn({2, 3, 5, 8}, DType::f32));
  const Tensor good = randn({4, 8}, DType::f32);
  EXPECT_THROW_MSG(
      (rope_attention(tape, q, k, Var(randn({2, 3, 6, 8}, DType::f32)), {.rope = {&good, &good}, .prefix = 1})),
      "rope_attention: v has shape (2, 3, 6, 8), expected (2, 3, 5, 8)");
  EXPECT_THROW_MSG(
      (rope_attention(tape, Var(randn({3, 5, 8}, DType::f32)), k, k, {.rope = {&good, &good}, .prefix = 1})),
      "rope_attention: q has shape (3, 5, 8), expected (B, H, T, hd)");
  const Tensor wrong = randn({5, 8}, DType::f32);
  EXPECT_THROW_MSG((rope_attention(tape, q, k, k, {.rope = {&wrong, &good}, .prefix = 1})),
                   "rope_attention: cos has shape (5, 8), expected (4, 8) for q (2, 3, 5, 8) with prefix 1");
  const Tensor per = randn({3, 4, 8}, DType::f32);
  EXPECT_THROW_MSG((rope_attention(tape, q, k, k, {.rope = {&per, &per}, .prefix = 1})),
                   "rope_attention: cos has shape (3, 4, 8), expected (2, 4, 8)");
  const Tensor f64 = good.to(DType::f64);
  EXPECT_THROW_MSG((rope_attention(tape, q, k, k, {.rope = {&good, &f64}, .prefix = 1})),
                   "rope_attention: sin (4, 8) is f64 but the fp32 policy computes in f32");
  EXPECT_THROW_MSG((rope_attention(tape, q, k, k, {.rope = {&good, nullptr}, .prefix = 1})),
                   "rope_attention: cos and sin must both");
  const Var odd(randn({2, 3, 5, 7}, DType::f32));
  const Tensor odd_t = randn({4, 7}, DType::f32);
  EXPECT_THROW_MSG((rope_attention(tape, odd, odd, odd, {.rope = {&odd_t, &odd_t}, .prefix = 1})),
                   "rope_attention: head dim 7");
  EXPECT_THROW_MSG((rope_attention(tape, q, k, k, {.rope = {&good, &good}, .prefix = 6})),
                   "rope_attention: prefix 6 out of range");
  EXPECT_THROW_MSG((rope_attention(tape, q, k, k, {.scale = 0.0})), "rope_attention: scale must be positive");
}
