// Tests embedding: forward against table indexing, repeated ids in the backward, finite differences,
// and out-of-range ids reported with the op, the position and the value.
#include "common/test_util.hpp"
#include "evaclip/ops/embedding.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

TEST(Embedding, ForwardMatchesTableRows) {
  const Tensor table = randn({7, 4}, DType::f64, 1);
  const Tensor ids = Tensor::from({2, 3}, DType::i64, std::vector<std::int64_t>{6, 0, 6, 3, 3, 1});
  Tape<fp64> tape;
  const Var y = embedding(tape, Var(table), ids);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  auto tv = table.view<double>(), yv = y.value().view<double>();
  auto iv = ids.view<std::int64_t>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int d = 0; d < 4; ++d) EXPECT_EQ(yv(i, j, d), tv(iv(i, j), d));
}

TEST(Embedding, ScalarIdGivesOneRow) {
  const Tensor table = randn({5, 3}, DType::f64, 2);
  Tape<fp64> tape;
  const Var y = embedding(tape, Var(table), Tensor::from({}, DType::i64, std::vector<std::int64_t>{4}));
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_TRUE(allclose(table.slice(0, 4, 5).reshape({3}), y.value(), 0, 0));
}

TEST(Embedding, RepeatedIdsAddTheirGradients) {
  Tape<fp64> tape;
  const Var table(randn({4, 2}, DType::f64, 3), true);
  const Var y = embedding(tape, table, Tensor::from({5}, DType::i64, std::vector<std::int64_t>{3, 0, 3, 3, 1}));
  tape.backward(y);  // dy = 1: each table row's gradient counts its uses, unused rows get 0
  const Tensor want = Tensor::from({4, 2}, DType::f64, std::vector<double>{1, 1, 1, 1, 0, 0, 3, 3});
  EXPECT_TRUE(allclose(want, table.grad(), 0, 0));
}

TEST(Embedding, GradientMatchesFiniteDifferences) {
  const Tensor ids = Tensor::from({2, 4}, DType::i64, std::vector<std::int64_t>{1, 5, 1, 0, 2, 2, 5, 1});
  auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return embedding(t, v[0], ids); };
  const auto rep = gradcheck(f, {randn({6, 3}, DType::f64, 4)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(Embedding, Bf16LookupIsExact) {
  const Tensor table = randn({6, 8}, DType::f32, 5).to(DType::bf16);
  const Tensor ids = Tensor::from({3}, DType::i64, std::vector<std::int64_t>{5, 2, 5});
  Tape<bf16_mixed> tape;
  const Var y = embedding(tape, Var(table), ids);
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(table.slice(0, 2, 3).reshape({8}), y.value().slice(0, 1, 2).reshape({8}), 0, 0));
}

TEST(Embedding, OutOfRangeIdsNameTheOpPositionAndValue) {
  Tape<fp32> tape;
  const Var table(randn({5, 3}, DType::f32));
  EXPECT_THROW_MSG(
      embedding(tape, table, Tensor::from({2, 3}, DType::i64, std::vector<std::int64_t>{0, 1, 2, 3, 4, 7})),
      "embedding: ids[1, 2] = 7 is out of range [0, 5)");
  EXPECT_THROW_MSG(embedding(tape, table, Tensor::from({2}, DType::i64, std::vector<std::int64_t>{-3, 0})),
                   "embedding: ids[0] = -3 is out of range [0, 5)");
  EXPECT_THROW_MSG(embedding(tape, Var(randn({5}, DType::f32)), Tensor::zeros({1}, DType::i64)),
                   "embedding: table has shape (5,), expected (V, D)");
}
