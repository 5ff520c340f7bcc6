// Tests the tape's stated semantics: accumulation, zero_grad/clear_grad, NoGrad, freeing saved activations,
// single-use backward, clear(), gradient dtypes, and that gradcheck detects a wrong backward.
#include "common/test_util.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// A scalar-producing chain: y = LN(LN(x; w1, b1); w2, b2).
struct Chain {
  Var w1 = Var::parameter(randn({6}, DType::f64, 11)), b1 = Var::parameter(randn({6}, DType::f64, 12));
  Var w2 = Var::parameter(randn({6}, DType::f64, 13)), b2 = Var::parameter(randn({6}, DType::f64, 14));
  template <class P>
  Var operator()(Tape<P>& t, const Var& x) const {
    return layernorm(t, layernorm(t, x, w1, b1, 1e-5), w2, b2, 1e-5);
  }
};
}  // namespace

TEST(Tape, LeafGradientsAccumulateAcrossBackwardCalls) {
  Chain f;
  const Var x(randn({3, 6}, DType::f64, 1), true);
  Tape<fp64> tape;
  tape.backward(f(tape, x), 1.0);
  const Tensor g1 = x.grad().clone(), gw1 = f.w1.grad().clone();
  tape.backward(f(tape, x), 1.0);
  auto expect_doubled = [](const Tensor& once, const Tensor& twice) {
    const auto a = once.to_vector(), b = twice.to_vector();
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(b[i], 2 * a[i]) << "element " << i;
  };
  expect_doubled(g1, x.grad());
  expect_doubled(gw1, f.w1.grad());
}

TEST(Tape, ZeroGradKeepsTheBufferClearGradReleasesIt) {
  Chain f;
  Tape<fp64> tape;
  tape.backward(f(tape, Var(randn({2, 6}, DType::f64, 2))), 1.0);
  ASSERT_TRUE(f.w2.has_grad());
  f.w2.zero_grad();
  ASSERT_TRUE(f.w2.has_grad());
  for (double v : f.w2.grad().to_vector()) EXPECT_EQ(v, 0.0);
  f.w2.clear_grad();
  EXPECT_FALSE(f.w2.has_grad());
  EXPECT_THROW_MSG(f.w2.grad(), "Var::grad: no gradient for (6,)");
}

TEST(Tape, InputsWithoutRequiresGradGetNoGradient) {
  Chain f;
  const Var x(randn({2, 6}, DType::f64, 3));  // a constant input
  Tape<fp64> tape;
  tape.backward(f(tape, x), 1.0);
  EXPECT_FALSE(x.has_grad());
  EXPECT_TRUE(f.w1.has_grad());
}

TEST(Tape, NoGradRecordsNothing) {
  Chain f;
  Tape<fp64> tape;
  Var y;
  {
    NoGrad ng(tape);
    y = f(tape, Var(randn({2, 6}, DType::f64, 4), true));
    EXPECT_FALSE(tape.recording());
  }
  EXPECT_TRUE(tape.recording());
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW_MSG(tape.backward(y), "does not require grad");
}

TEST(Tape, BackwardFreesSavedActivationsAndEmptiesTheTape) {
  Chain f;
  Tape<fp64> tape;
  Tensor hidden;  // a copy of the intermediate activation's handle, to observe its storage
  Var out;
  {
    const Var x(randn({2, 6}, DType::f64, 5), true);
    const Var h = layernorm(tape, x, f.w1, f.b1, 1e-5);
    hidden = h.value();
    out = layernorm(tape, h, f.w2, f.b2, 1e-5);
  }
  EXPECT_EQ(tape.size(), 2u);
  EXPECT_FALSE(hidden.is_unique());  // the second op's closure saved it
  tape.backward(out, 1.0);
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_TRUE(hidden.is_unique());  // released during backward
  EXPECT_THROW_MSG(tape.backward(out, 1.0), "tape is empty");
}

TEST(Tape, ClearDropsTheGraphWithoutGradients) {
  Chain f;
  Tape<fp64> tape;
  const Var x(randn({2, 6}, DType::f64, 6), true);
  f(tape, x);
  EXPECT_GT(tape.size(), 0u);
  tape.clear();
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_FALSE(x.has_grad());
  EXPECT_FALSE(f.w1.has_grad());
}

TEST(Tape, BranchesNotReachingTheRootAreSkipped) {
  Chain f;
  Tape<fp64> tape;
  const Var x(randn({2, 6}, DType::f64, 7), true);
  const Var unused = layernorm(tape, x, f.w2, f.b2, 1e-5);  // recorded, but not part of the loss
  const Var y = layernorm(tape, x, f.w1, f.b1, 1e-5);
  tape.backward(y, 1.0);
  EXPECT_FALSE(f.w2.has_grad());
  EXPECT_TRUE(f.w1.has_grad());
}

TEST(Tape, MixedPrecisionParametersAccumulateInTheirGradDtype) {
  Tape<bf16_mixed> tape;
  const Var w = Var::parameter(Tensor::full({8}, DType::bf16, 1.0), DType::f32);
  const Var b = Var::parameter(Tensor::zeros({8}, DType::bf16), DType::f32);
  const Var x(randn({4, 8}, DType::bf16, 8));
  tape.backward(layernorm(tape, x, w, b, 1e-6), 1.0);
  EXPECT_EQ(w.grad().dtype(), DType::f32);
  EXPECT_EQ(b.grad().dtype(), DType::f32);
  for (double v : b.grad().to_vector()) EXPECT_EQ(v, 4.0);  // db = sum of ones over 4 rows
}

TEST(Gradcheck, DetectsAWrongBackward) {
  // y = 2x recorded with a backward that claims dy/dx = 3: gradcheck must report it.
  auto wrong = [](Tape<fp64>& t, const std::vector<Var>& v) {
    const Var& x = v[0];
    Tensor y = x.value().clone();
    for (double* p = y.data<double>(); p != y.data<double>() + y.numel(); ++p) *p *= 2;
    Var out = make_result(t, y, x);
    if (out.requires_grad())
      t.record([x, out] {
        Tensor g = out.grad().clone();
        for (double* p = g.data<double>(); p != g.data<double>() + g.numel(); ++p) *p *= 3;
        x.accumulate_grad(g);
      });
    return out;
  };
  const auto rep = gradcheck(wrong, {randn({5}, DType::f64, 9)});
  EXPECT_FALSE(rep.ok);
  EXPECT_GT(rep.worst_fraction, 1.0);
}
