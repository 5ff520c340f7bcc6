// Tests gather_rows: forward against index loops, repeated indices in the backward, EOT pooling,
// thread-count determinism, and errors that name the op, the position and the bad value.
#include <omp.h>

#include "common/test_util.hpp"
#include "evaclip/ops/gather_rows.hpp"
#include "evaclip/ops/layout.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
Tensor ids_tensor(Shape s, const std::vector<std::int64_t>& v) { return Tensor::from(std::move(s), DType::i64, v); }
}  // namespace

TEST(GatherRows, ForwardMatchesIndexLoops) {
  const Tensor x = randn({2, 5, 3}, DType::f64, 1);
  const Tensor idx = ids_tensor({2, 4}, {4, 0, 4, 2, 1, 1, 3, 0});  // unsorted, with repeats
  Tape<fp64> tape;
  const Var y = gather_rows(tape, Var(x), idx);
  ASSERT_EQ(y.shape(), (Shape{2, 4, 3}));
  auto xv = x.view<double>(), yv = y.value().view<double>();
  auto iv = idx.view<std::int64_t>();
  for (int b = 0; b < 2; ++b)
    for (int k = 0; k < 4; ++k)
      for (int d = 0; d < 3; ++d) EXPECT_EQ(yv(b, k, d), xv(b, iv(b, k), d));
}

TEST(GatherRows, RepeatedIndicesAddTheirGradients) {
  Tape<fp64> tape;
  const Var x(randn({2, 3, 2}, DType::f64, 2), true);
  const Var y = gather_rows(tape, x, ids_tensor({2, 3}, {0, 0, 2, 1, 1, 1}));
  tape.backward(y);  // dy = 1: dx counts how often each row was read
  const Tensor want = Tensor::from({2, 3, 2}, DType::f64, std::vector<double>{2, 2, 0, 0, 1, 1, 0, 0, 3, 3, 0, 0});
  EXPECT_TRUE(allclose(want, x.grad(), 0, 0));
}

TEST(GatherRows, GradientMatchesFiniteDifferences) {
  const Tensor idx = ids_tensor({3, 2}, {1, 1, 0, 3, 2, 0});
  auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) { return gather_rows(t, v[0], idx); };
  const auto rep = gradcheck(f, {randn({3, 4, 5}, DType::f64, 3)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(GatherRows, TextEotPoolingTakesTheArgmaxRow) {
  // Pool the row at argmax(ids) (first occurrence of the largest id, EOT = 49407), then reshape (B, 1, D) -> (B, D).
  const std::vector<std::int64_t> ids = {49406, 320, 49407, 0, 0, 49406, 49407, 49407, 0, 0};
  std::vector<std::int64_t> eot;
  for (int b = 0; b < 2; ++b) {
    auto row = ids.begin() + b * 5;
    eot.push_back(std::max_element(row, row + 5) - row);
  }
  ASSERT_EQ(eot, (std::vector<std::int64_t>{2, 1}));
  const Tensor x = randn({2, 5, 4}, DType::f64, 4);
  Tape<fp64> tape;
  const Var pooled = reshape(tape, gather_rows(tape, Var(x), ids_tensor({2, 1}, eot)), {2, 4});
  for (int b = 0; b < 2; ++b)
    for (int d = 0; d < 4; ++d) EXPECT_EQ(pooled.value().view<double>()(b, d), x.view<double>()(b, eot[b], d));
}

TEST(GatherRows, BackwardIsIdenticalForAnyThreadCount) {
  Rng rng(5);
  std::vector<std::int64_t> v(4 * 300);
  for (auto& i : v) i = std::int64_t(rng.uniform(0, 7));  // many repeats
  const Tensor idx = ids_tensor({4, 300}, v), x = randn({4, 7, 16}, DType::f32, 6),
               dy = randn({4, 300, 16}, DType::f32, 7);
  auto grad_with_threads = [&](int n) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(n);
    Tape<fp32> tape;
    const Var xv(x, true);
    tape.backward(gather_rows(tape, xv, idx), dy.clone());
    omp_set_num_threads(before);
    return xv.grad().to_vector();
  };
  EXPECT_EQ(grad_with_threads(1), grad_with_threads(3));
}

TEST(GatherRows, BadIndicesNameTheOpPositionAndValue) {
  Tape<fp32> tape;
  const Var x(randn({2, 5, 3}, DType::f32));
  EXPECT_THROW_MSG(gather_rows(tape, x, ids_tensor({2, 2}, {0, 1, 2, 5})),
                   "gather_rows: idx[1, 1] = 5 is out of range [0, 5)");
  EXPECT_THROW_MSG(gather_rows(tape, x, ids_tensor({2, 2}, {0, -1, 2, 3})),
                   "gather_rows: idx[0, 1] = -1 is out of range");
  EXPECT_THROW_MSG(gather_rows(tape, x, ids_tensor({3, 2}, {0, 1, 2, 3, 4, 0})),
                   "gather_rows: idx has shape (3, 2), expected (B, K) with B = 2");
  EXPECT_THROW_MSG(gather_rows(tape, x, Tensor::zeros({2, 2}, DType::i32)),
                   "gather_rows: idx (2, 2) is i32, expected i64");
  EXPECT_THROW_MSG(gather_rows(tape, Var(randn({5, 3}, DType::f32)), ids_tensor({1, 1}, {0})),
                   "gather_rows: x has shape (5, 3), expected (B, T, D)");
}
