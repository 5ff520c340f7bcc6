// Tests attention: forward against a naive triple loop (causal or not, T = 1, custom scale), backward
// against finite differences, bf16_mixed against fp32, errors.
#include "common/test_util.hpp"
#include "evaclip/ops/attention.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// softmax(scale q k^T, keys j > i masked when causal) v, one query at a time.
Tensor naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale) {
  const auto& s = q.shape();
  Tensor o = Tensor::zeros(s, DType::f64);
  auto qv = q.view<double>(), kv = k.view<double>(), vv = v.view<double>(), ov = o.view<double>();
  for (int b = 0; b < s[0]; ++b)
    for (int h = 0; h < s[1]; ++h)
      for (int i = 0; i < s[2]; ++i) {
        std::vector<double> w(std::size_t(s[2]), 0.0);
        double z = 0;
        for (int j = 0; j < s[2]; ++j) {
          if (causal && j > i) continue;
          double dot = 0;
          for (int d = 0; d < s[3]; ++d) dot += qv(b, h, i, d) * kv(b, h, j, d);
          w[std::size_t(j)] = std::exp(scale * dot);
          z += w[std::size_t(j)];
        }
        for (int j = 0; j < s[2]; ++j)
          for (int d = 0; d < s[3]; ++d) ov(b, h, i, d) += w[std::size_t(j)] / z * vv(b, h, j, d);
      }
  return o;
}

std::vector<Tensor> qkv(Shape s, std::uint64_t seed) {
  return {randn(s, DType::f64, seed), randn(s, DType::f64, seed + 1), randn(s, DType::f64, seed + 2)};
}
}  // namespace

TEST(Attention, ForwardMatchesNaiveLoop) {
  const auto in = qkv({2, 3, 5, 4}, 1);
  for (bool causal : {false, true}) {
    Tape<fp64> tape;
    const Var o = attention(tape, Var(in[0]), Var(in[1]), Var(in[2]), causal);
    EXPECT_TRUE(allclose(naive_attention(in[0], in[1], in[2], causal, 0.5), o.value(), 1e-12, 1e-12))
        << "causal " << causal;
  }
}

TEST(Attention, ExplicitScaleAndSingleToken) {
  const auto in = qkv({2, 2, 6, 3}, 4);
  Tape<fp64> tape;
  const Var o = attention(tape, Var(in[0]), Var(in[1]), Var(in[2]), true, 0.3);
  EXPECT_TRUE(allclose(naive_attention(in[0], in[1], in[2], true, 0.3), o.value(), 1e-12, 1e-12));
  // With one token the single key gets all the weight: the output is v, causal or not.
  const auto one = qkv({2, 3, 1, 4}, 7);
  for (bool causal : {false, true})
    EXPECT_TRUE(allclose(one[2], attention(tape, Var(one[0]), Var(one[1]), Var(one[2]), causal).value(), 1e-12, 1e-12));
}

TEST(Attention, GradientsMatchFiniteDifferences) {
  for (bool causal : {false, true}) {
    auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return attention(t, v[0], v[1], v[2], causal); };
    const auto rep = gradcheck(f, qkv({2, 2, 5, 3}, 10));
    EXPECT_TRUE(rep.ok) << rep.worst << " (causal " << causal << ")";
  }
}

TEST(Attention, GradientsForSingleTokenAndExplicitScale) {
  auto f1 = [](Tape<fp64>& t, const std::vector<Var>& v) { return attention(t, v[0], v[1], v[2], true); };
  const auto rep1 = gradcheck(f1, qkv({1, 2, 1, 3}, 13));  // T = 1: dq = dk = 0, dv = dO
  EXPECT_TRUE(rep1.ok) << rep1.worst;
  auto f2 = [](Tape<fp64>& t, const std::vector<Var>& v) { return attention(t, v[0], v[1], v[2], false, 1.7); };
  const auto rep2 = gradcheck(f2, qkv({1, 1, 4, 2}, 16));
  EXPECT_TRUE(rep2.ok) << rep2.worst;
}

TEST(Attention, LongSequencesSplitIntoPassesGiveThePerHeadResult) {
  // T = 1100 leaves room for 3 heads' scores per pass (4M scores), so 4 heads run as passes of 3 and 1.
  // Each head alone (one pass) is the reference, forward and backward, causal.
  const Shape s{1, 4, 1100, 2};
  const auto in = qkv(s, 40);
  const Tensor seed = randn(s, DType::f64, 43);
  Tape<fp64> tape;
  std::vector<Var> all{Var::parameter(in[0]), Var::parameter(in[1]), Var::parameter(in[2])};
  const Var o = attention(tape, all[0], all[1], all[2], true);
  tape.backward(o, seed.clone());
  for (std::int64_t h = 0; h < 4; ++h) {
    auto head = [&](const Tensor& t) { return t.slice(1, h, h + 1).contiguous(); };
    std::vector<Var> one{Var::parameter(head(in[0])), Var::parameter(head(in[1])), Var::parameter(head(in[2]))};
    const Var oh = attention(tape, one[0], one[1], one[2], true);
    tape.backward(oh, head(seed));
    EXPECT_TRUE(allclose(oh.value(), head(o.value()), 1e-12, 1e-12)) << "head " << h;
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(allclose(one[i].grad(), head(all[i].grad()), 1e-12, 1e-12)) << "head " << h << " input " << i;
  }
}

TEST(Attention, ReducedPrecisionMatchesFp32WithinTolerance) {
  // Same bf16-representable inputs; S and P stay fp32 in both runs (q, k, v are widened), so the
  // outputs differ by the rounding of O to bf16 (2^-8 relative), and atol covers outputs near zero.
  Shape s{2, 4, 17, 16};
  std::vector<Tensor> in;
  for (std::uint64_t i = 0; i < 3; ++i) in.push_back(randn(s, DType::bf16, 20 + i).to(DType::f32));
  for (bool causal : {false, true}) {
    Tape<fp32> t32;
    Tape<bf16_mixed> t16;
    const Var o32 = attention(t32, Var(in[0]), Var(in[1]), Var(in[2]), causal);
    const Var o16 =
        attention(t16, Var(in[0].to(DType::bf16)), Var(in[1].to(DType::bf16)), Var(in[2].to(DType::bf16)), causal);
    EXPECT_EQ(o16.dtype(), DType::bf16);
    EXPECT_TRUE(allclose(o32.value(), o16.value(), 4e-3, 5e-3)) << "causal " << causal;
    // Gradients: dS = P (dP - rowsum) cancels, so allow the general bf16 bound (tolerance.hpp).
    std::vector<Var> v32, v16;
    for (const auto& x : in) v32.push_back(Var::parameter(x)), v16.push_back(Var::parameter(x.to(DType::bf16)));
    const Tensor seed = randn(s, DType::bf16, 30).to(DType::f32);
    t32.backward(attention(t32, v32[0], v32[1], v32[2], causal), seed);
    t16.backward(attention(t16, v16[0], v16[1], v16[2], causal), seed.to(DType::bf16));
    for (int i = 0; i < 3; ++i)
      EXPECT_TRUE(allclose(v32[i].grad(), v16[i].grad(), tolerance_for(DType::bf16))) << "input " << i;
  }
}

TEST(Attention, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var q(randn({1, 2, 5, 4}, DType::f32)), k(randn({1, 2, 5, 4}, DType::f32));
  EXPECT_THROW_MSG(attention(tape, q, k, Var(randn({1, 2, 6, 4}, DType::f32))),
                   "attention: v has shape (1, 2, 6, 4), expected (1, 2, 5, 4)");
  EXPECT_THROW_MSG(attention(tape, Var(randn({2, 5, 4}, DType::f32)), k, k),
                   "attention: q has shape (2, 5, 4), expected (B, H, T, hd)");
  EXPECT_THROW_MSG(attention(tape, q, k, k, false, 0.0), "attention: scale must be positive");
}
