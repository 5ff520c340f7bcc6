// Tests cross_entropy: forward against log-sum-exp written out, gradient, label checks, and the symmetric
// CLIP InfoNCE loss composed from cross_entropy, exp_clamp, scale and add.
#include "common/test_util.hpp"
#include "evaclip/ops/cross_entropy.hpp"
#include "evaclip/ops/elementwise.hpp"
#include "evaclip/ops/exp_clamp.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
Tensor labels_of(std::vector<std::int64_t> v) {
  const auto n = std::int64_t(v.size());
  return Tensor::from({n}, DType::i64, v);
}
Tensor arange_labels(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[std::size_t(i)] = i;
  return labels_of(v);
}
// mean over rows of log(sum_c exp(x[r, c])) - x[r, label_r], directly (no max shift: inputs are small).
double cross_entropy_ref(const Tensor& logits, const Tensor& labels) {
  auto xv = logits.view<double>();
  const auto lv = labels.view<std::int64_t>();
  const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
  double total = 0;
  for (std::int64_t r = 0; r < N; ++r) {
    double s = 0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(xv(r, c));
    total += std::log(s) - xv(r, lv(r));
  }
  return total / double(N);
}
}  // namespace

TEST(CrossEntropy, ForwardMatchesFormula) {
  const Tensor x = randn({5, 7}, DType::f64, 1, 2.0), labels = labels_of({0, 6, 3, 3, 1});
  Tape<fp64> tape;
  const Var loss = cross_entropy(tape, Var(x), labels);
  EXPECT_EQ(loss.shape(), Shape{});  // rank 0, one element
  EXPECT_EQ(to_string(loss.shape()), "()");
  EXPECT_NEAR(loss.value().item(), cross_entropy_ref(x, labels), 1e-14);
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  // exp(1000) overflows: only the max-shifted log-sum-exp gives the right answer (1000 - 999 offsets).
  const Tensor x = Tensor::from<double>({2, 3}, DType::f64, {1000, 999, 998, -1000, -1000, -999});
  Tape<fp64> tape;
  const double loss = cross_entropy(tape, Var(x), labels_of({1, 2})).value().item();
  const double lse0 = 1000 + std::log(1 + std::exp(-1.0) + std::exp(-2.0)),
               lse1 = -999 + std::log(1 + 2 * std::exp(-1.0));
  EXPECT_NEAR(loss, ((lse0 - 999) + (lse1 + 999)) / 2, 1e-12);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return cross_entropy(t, v[0], labels_of({2, 0, 4, 2})); };
  const auto rep = gradcheck(f, {randn({4, 5}, DType::f64, 2, 2.0)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(CrossEntropy, ReducedPrecisionMatchesFp32WithinTolerance) {
  const Tensor x = randn({16, 10}, DType::f32, 3, 3.0);
  const Tensor labels = labels_of({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5});
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const double l32 = cross_entropy(t32, Var(x), labels).value().item();
  const Var l16 = cross_entropy(t16, Var(x.to(DType::bf16)), labels);
  EXPECT_EQ(l16.dtype(), DType::bf16);
  // Rounded logits shift each row's loss by <= ~2 * 2^-9 * |x| and the result is rounded to 2^-9 relative.
  EXPECT_NEAR(l16.value().item(), l32, 0.03 + 4e-3 * std::abs(l32));
}

TEST(CrossEntropy, BadLabelsNameTheOp) {
  Tape<fp32> tape;
  const Var x(randn({3, 4}, DType::f32));
  EXPECT_THROW_MSG(cross_entropy(tape, x, labels_of({0, 4, 1})), "cross_entropy: labels[1] = 4 is out of range [0, 4)");
  EXPECT_THROW_MSG(cross_entropy(tape, x, labels_of({0, 1, -1})), "cross_entropy: labels[2] = -1");
  EXPECT_THROW_MSG(cross_entropy(tape, x, labels_of({0, 1})), "cross_entropy: labels has shape (2,), expected (3,)");
  EXPECT_THROW_MSG(cross_entropy(tape, x, Tensor::zeros({3}, DType::i32)), "cross_entropy: labels must be an i64");
  EXPECT_THROW_MSG(cross_entropy(tape, Var(randn({12}, DType::f32)), labels_of({0})),
                   "cross_entropy: logits has shape (12,), expected (N, C)");
}

// CLIP: logits_per_image = s * L, logits_per_text = its transpose, loss = (CE(rows) + CE(columns)) / 2 with
// labels 0..N-1 and s = exp(clamp(t, 0, ln 100)). The transpose is passed in as a second leaf Var; the
// similarity matrix's gradient is then dL + dLt^T, which must be (softmax_rows - I + softmax_cols - I) s / 2N.
TEST(CrossEntropy, SymmetricClipLossComposes) {
  const std::int64_t N = 4;
  const Tensor L = randn({N, N}, DType::f64, 5, 0.3), labels = arange_labels(N);
  const Tensor t0 = Tensor::from<double>({}, DType::f64, {std::log(10.0)});
  auto clip_loss = [&](Tape<fp64>& tape, const std::vector<Var>& v) {  // v: L, L^T, t
    const Var s = exp_clamp(tape, v[2], 0.0, std::log(100.0));
    const Var li = cross_entropy(tape, scale(tape, v[0], s), labels);
    const Var lt = cross_entropy(tape, scale(tape, v[1], s), labels);
    return scale(tape, add(tape, li, lt), 0.5);
  };
  const auto rep = gradcheck(clip_loss, {L, L.transpose(0, 1).contiguous(), t0});
  EXPECT_TRUE(rep.ok) << rep.worst;

  Tape<fp64> tape;
  const Var vl(L, true), vlt(L.transpose(0, 1).contiguous(), true), vt(t0, true);
  const Var loss = clip_loss(tape, {vl, vlt, vt});
  const Tensor sL = scale(tape, Var(L), 10.0).value();
  const double want = (cross_entropy_ref(sL, labels) + cross_entropy_ref(sL.transpose(0, 1).contiguous(), labels)) / 2;
  EXPECT_NEAR(loss.value().item(), want, 1e-13);

  tape.backward(loss);
  Tensor ref = Tensor::empty({N, N}, DType::f64), got = Tensor::empty({N, N}, DType::f64);
  auto sv = sL.view<double>(), rv = ref.view<double>(), gv = got.view<double>();
  auto dl = vl.grad().view<double>(), dlt = vlt.grad().view<double>();
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double row = 0, col = 0;
      for (std::int64_t k = 0; k < N; ++k) row += std::exp(sv(i, k)), col += std::exp(sv(k, j));
      const double eye = i == j ? 1.0 : 0.0;
      rv(i, j) = (std::exp(sv(i, j)) / row - eye + std::exp(sv(i, j)) / col - eye) * 10.0 / (2 * N);
      gv(i, j) = dl(i, j) + dlt(j, i);
    }
  EXPECT_TRUE(allclose(ref, got, 1e-14, 1e-12));
}
