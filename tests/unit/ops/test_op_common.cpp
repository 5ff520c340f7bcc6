// Tests the tape-op shell of op_common.hpp: differentiable() records only when an input requires grad, gives
// the backward kernel a buffer exactly for the inputs that want a gradient (null for the others), converts
// the result's gradient to the activation type, and accumulates (never overwrites) into the inputs; Grads'
// drop() leaves an input untouched.
#include "common/test_util.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// y = 2 a + 3 b as a toy op whose backward kernel writes through the buffers it is given.
template <class P>
Var two_a_three_b(Tape<P>& tape, const Var& a, const Var& b, std::vector<bool>* saw_buffer = nullptr) {
  using T = typename P::act_t;
  Tensor y = Tensor::empty(a.shape(), P::act_dtype);
  const std::int64_t n = a.value().numel();
  for (std::int64_t i = 0; i < n; ++i)
    y.data<T>()[i] = T(2 * double(a.value().data<T>()[i]) + 3 * double(b.value().data<T>()[i]));
  return differentiable(tape, y, {a, b}, [=](const auto&, auto& g, const T* dy) {
    if (saw_buffer) *saw_buffer = {g[0] != nullptr, g[1] != nullptr};
    for (std::int64_t i = 0; i < n; ++i) {
      if (g[0]) g[0][i] = T(2 * double(dy[i]));
      if (g[1]) g[1][i] = T(3 * double(dy[i]));
    }
  });
}
}  // namespace

TEST(OpShell, RecordsOnlyWhenAnInputRequiresGrad) {
  Tape<fp64> tape;
  const Var a(randn({4}, DType::f64, 1)), b(randn({4}, DType::f64, 2));
  const Var y = two_a_three_b(tape, a, b);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(tape.size(), 0u);
  const Var p = Var::parameter(randn({4}, DType::f64, 3));
  EXPECT_TRUE(two_a_three_b(tape, a, p).requires_grad());
  EXPECT_EQ(tape.size(), 1u);
  {
    NoGrad off(tape);
    EXPECT_FALSE(two_a_three_b(tape, a, p).requires_grad());
  }
  EXPECT_EQ(tape.size(), 1u);
}

TEST(OpShell, BuffersOnlyForInputsThatWantAGradientAndGradientsAccumulate) {
  Tape<fp64> tape;
  const Var constant(randn({4}, DType::f64, 4));
  const Var p = Var::parameter(randn({4}, DType::f64, 5));
  p.accumulate_grad(Tensor::full({4}, DType::f64, 10.0));  // an earlier gradient: must be added to
  std::vector<bool> saw;
  const Var y = two_a_three_b(tape, constant, p, &saw);
  tape.backward(y, 2.0);
  EXPECT_EQ(saw, (std::vector<bool>{false, true}));
  EXPECT_TRUE(allclose(p.grad(), Tensor::full({4}, DType::f64, 16.0), 0, 0));  // 10 + 3 * 2
  EXPECT_FALSE(constant.has_grad());
}

TEST(OpShell, AnInputUsedTwiceGetsBothContributions) {
  Tape<fp64> tape;
  const Var p = Var::parameter(randn({3}, DType::f64, 6));
  tape.backward(two_a_three_b(tape, p, p));
  EXPECT_TRUE(allclose(p.grad(), Tensor::full({3}, DType::f64, 5.0), 0, 0));
}

TEST(OpShell, TheGradientReachesTheKernelInTheActivationType) {
  // bf16_mixed: the seed arrives in the result's grad dtype and is converted to bf16 for the kernel; the
  // fp32 master-style leaf gradient then accumulates it.
  Tape<bf16_mixed> tape;
  const Var p = Var::parameter(randn({4}, DType::f32, 7).to(DType::bf16));
  const Var q(randn({4}, DType::f32, 8).to(DType::bf16));
  tape.backward(two_a_three_b(tape, p, q));
  EXPECT_TRUE(allclose(p.grad().to(DType::f64), Tensor::full({4}, DType::f64, 2.0), 0, 0));
}

TEST(OpShell, DroppedBuffersAreNotAccumulated) {
  const Var p = Var::parameter(randn({2}, DType::f64, 9));
  Grads<fp64, Cpu, 1> g({p});
  ASSERT_NE(g[0], nullptr);
  g[0][0] = 1, g[0][1] = 2;
  g.drop(0);
  EXPECT_EQ(g[0], nullptr);
  g.accumulate();
  EXPECT_FALSE(p.has_grad());
}
