// Tests reshape, permute, concat, slice, expand_batch: forward against index loops, gradients against
// finite differences, and errors that name the op.
#include "common/test_util.hpp"
#include "evaclip/ops/layout.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

TEST(Layout, ReshapeIsAViewAndItsGradientReshapesBack) {
  const Tensor x = randn({2, 3, 4}, DType::f64, 1);
  Tape<fp64> tape;
  const Var y = reshape(tape, Var(x), {6, -1});
  EXPECT_EQ(y.shape(), (Shape{6, 4}));
  EXPECT_TRUE(y.value().shares_storage(x));
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return reshape(t, v[0], {4, 6}); };
  const auto rep = gradcheck(f, {x});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Layout, PermuteMatchesIndexLoopsAndIsContiguous) {
  const Tensor x = randn({2, 3, 4, 5}, DType::f64, 2);
  Tape<fp64> tape;
  const Var y = permute(tape, Var(x), {0, 2, 1, 3});  // (B, T, H, hd) <-> (B, H, T, hd)
  ASSERT_EQ(y.shape(), (Shape{2, 4, 3, 5}));
  EXPECT_TRUE(y.value().is_contiguous());
  auto xv = x.view<double>(), yv = y.value().view<double>();
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        for (int d = 0; d < 5; ++d) EXPECT_EQ(yv(a, c, b, d), xv(a, b, c, d));
}

TEST(Layout, PermuteGradientIsTheInversePermutation) {
  // A cyclic order (not its own inverse) catches a backward that applies the order instead of its inverse.
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return permute(t, v[0], {2, 0, 1}); };
  const auto rep = gradcheck(f, {randn({2, 3, 4}, DType::f64, 3)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Layout, ConcatPrependsTheClsToken) {
  const Tensor cls = randn({2, 1, 4}, DType::f64, 4), x = randn({2, 3, 4}, DType::f64, 5);
  Tape<fp64> tape;
  const Var y = concat(tape, {Var(cls), Var(x)}, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 4}));
  auto cv = cls.view<double>(), xv = x.view<double>(), yv = y.value().view<double>();
  for (int b = 0; b < 2; ++b)
    for (int d = 0; d < 4; ++d) {
      EXPECT_EQ(yv(b, 0, d), cv(b, 0, d));
      for (int n = 0; n < 3; ++n) EXPECT_EQ(yv(b, n + 1, d), xv(b, n, d));
    }
}

TEST(Layout, ConcatGradientsForEveryInputAndDimension) {
  for (std::int64_t dim : {0, 1, -1}) {
    Shape sa{2, 3, 2}, sb{2, 3, 2}, sc{2, 3, 2};
    const std::size_t d = std::size_t(dim < 0 ? dim + 3 : dim);
    sa[d] = 1, sc[d] = 3;  // uneven pieces
    auto f = [dim](Tape<fp64>& t, const std::vector<Var>& v) { return concat(t, {v[0], v[1], v[2]}, dim); };
    const auto rep = gradcheck(f, {randn(sa, DType::f64, 6), randn(sb, DType::f64, 7), randn(sc, DType::f64, 8)});
    EXPECT_TRUE(rep.ok) << "dim " << dim << ": " << rep.worst;
  }
}

TEST(Layout, ConcatGradientOnlyForInputsThatRequireIt) {
  Tape<fp64> tape;
  const Var a(randn({1, 2}, DType::f64, 9)), b(randn({3, 2}, DType::f64, 10), true);
  const Var y = concat(tape, {a, b}, 0);
  tape.backward(y);
  EXPECT_FALSE(a.has_grad());
  EXPECT_TRUE(allclose(Tensor::full({3, 2}, DType::f64, 1.0), b.grad(), 0, 0));
}

TEST(Layout, SliceMatchesIndexLoopsAndScattersItsGradient) {
  const Tensor x = randn({2, 5, 3}, DType::f64, 11);
  Tape<fp64> tape;
  const Var y = slice(tape, Var(x), 1, 1, 4);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3}));
  EXPECT_TRUE(y.value().is_contiguous());
  auto xv = x.view<double>(), yv = y.value().view<double>();
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int d = 0; d < 3; ++d) EXPECT_EQ(yv(b, t, d), xv(b, t + 1, d));
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return slice(t, v[0], -1, 0, 2); };
  const auto rep = gradcheck(f, {x});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Layout, ExpandBatchBroadcastsAndSumsTheGradient) {
  const Tensor cls = randn({1, 1, 4}, DType::f64, 12);
  Tape<fp64> tape;
  const Var y = expand_batch(tape, Var(cls), 3);
  ASSERT_EQ(y.shape(), (Shape{3, 1, 4}));
  for (int b = 0; b < 3; ++b)
    for (int d = 0; d < 4; ++d) EXPECT_EQ(y.value().view<double>()(b, 0, d), cls.view<double>()(0, 0, d));
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return expand_batch(t, v[0], 3); };
  const auto rep = gradcheck(f, {cls});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Layout, ClsPrependChainGradients) {
  // The vision tower's use: concat(expand_batch(cls), patches) along the token dimension.
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return concat(t, {expand_batch(t, v[0], 2), v[1]}, 1); };
  const auto rep = gradcheck(f, {randn({1, 1, 3}, DType::f64, 13), randn({2, 4, 3}, DType::f64, 14)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Layout, Bf16CopiesAreExact) {
  const Tensor x = randn({2, 3, 4}, DType::f32, 15).to(DType::bf16);
  Tape<bf16_mixed> tape;
  const Var y = permute(tape, Var(x), {1, 2, 0});
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(x.permute({1, 2, 0}), y.value(), 0, 0));
}

TEST(Layout, BadArgumentsNameTheOp) {
  Tape<fp32> tape;
  const Var x(randn({2, 3, 4}, DType::f32));
  EXPECT_THROW_MSG(reshape(tape, x, {5, 5}), "reshape: cannot view (2, 3, 4) as (5, 5)");
  EXPECT_THROW_MSG(permute(tape, x, {0, 0, 1}), "permute: dimension 0 repeated");
  EXPECT_THROW_MSG(
      concat(tape, {x, Var(randn({2, 3, 5}, DType::f32))}, 1),
      "concat: input 1 has shape (2, 3, 5) but input 0 has (2, 3, 4); they may differ only in dimension 1");
  EXPECT_THROW_MSG(concat(tape, {x, Var(randn({2, 3, 4}, DType::f64))}, 1), "concat: input 1 (2, 3, 4) is f64");
  EXPECT_THROW_MSG(slice(tape, x, 1, 2, 4), "slice: range [2, 4) out of bounds");
  EXPECT_THROW_MSG(expand_batch(tape, x, 4), "expand_batch: x has shape (2, 3, 4), expected a leading dimension of 1");
}
