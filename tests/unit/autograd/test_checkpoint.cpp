// Tests activation checkpointing: identical values and bit-identical gradients to the plain run,
// one recorded node per segment, and no recomputation state left behind.
#include "common/test_util.hpp"

using namespace evaclip;
using evaclip::test::randn;

namespace {
struct Block {  // a stand-in for a transformer block: two LayerNorms with parameters
  Var w1 = Var::parameter(randn({8}, DType::f32, 21)), b1 = Var::parameter(randn({8}, DType::f32, 22));
  Var w2 = Var::parameter(randn({8}, DType::f32, 23)), b2 = Var::parameter(randn({8}, DType::f32, 24));
  Var operator()(Tape<fp32>& t, const Var& x) const {
    return layernorm(t, layernorm(t, x, w1, b1, 1e-6), w2, b2, 1e-6);
  }
  std::vector<Var> params() const { return {w1, b1, w2, b2}; }
};

void expect_bits_equal(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  const auto va = a.to_vector(), vb = b.to_vector();
  for (std::size_t i = 0; i < va.size(); ++i) EXPECT_EQ(va[i], vb[i]) << "element " << i;
}
}  // namespace

TEST(Checkpoint, GradientsAreBitIdenticalToThePlainRun) {
  const Block blk1, blk2;
  const Tensor x0 = randn({3, 5, 8}, DType::f32, 1);
  const Tensor seed = randn({3, 5, 8}, DType::f32, 2);

  auto run = [&](bool ckpt) {
    for (const auto& p : blk1.params()) p.clear_grad();
    for (const auto& p : blk2.params()) p.clear_grad();
    Tape<fp32> tape;
    const Var x(x0, true);
    auto b1 = [&](Tape<fp32>& t, const Var& v) { return blk1(t, v); };
    auto b2 = [&](Tape<fp32>& t, const Var& v) { return blk2(t, v); };
    const Var h = ckpt ? checkpoint(tape, x, b1) : b1(tape, x);
    const Var y = ckpt ? checkpoint(tape, h, b2) : b2(tape, h);
    EXPECT_EQ(tape.size(), ckpt ? 2u : 4u);  // one node per checkpointed segment
    tape.backward(y, seed.clone());
    std::vector<Tensor> grads{x.grad().clone(), y.value().clone()};
    for (const auto& p : blk1.params()) grads.push_back(p.grad().clone());
    for (const auto& p : blk2.params()) grads.push_back(p.grad().clone());
    return grads;
  };
  const auto plain = run(false), ckpt = run(true);
  ASSERT_EQ(plain.size(), ckpt.size());
  for (std::size_t i = 0; i < plain.size(); ++i) expect_bits_equal(plain[i], ckpt[i]);
}

TEST(Checkpoint, UnderNoGradItIsAPlainCall) {
  const Block blk;
  Tape<fp32> tape;
  NoGrad ng(tape);
  const Var y = checkpoint(tape, Var(randn({2, 8}, DType::f32, 3)), [&](Tape<fp32>& t, const Var& v) { return blk(t, v); });
  EXPECT_EQ(tape.size(), 0u);
  EXPECT_FALSE(y.requires_grad());
}

TEST(Checkpoint, ParametersGetGradientsWhenTheInputIsConstant) {
  const Block blk;
  Tape<fp32> tape;
  const Var x(randn({2, 8}, DType::f32, 4));  // no grad wanted for x
  const Var y = checkpoint(tape, x, [&](Tape<fp32>& t, const Var& v) { return blk(t, v); });
  tape.backward(y, 1.0);
  EXPECT_FALSE(x.has_grad());
  for (const auto& p : blk.params()) EXPECT_TRUE(p.has_grad());
}
