// Tests eval/metrics.hpp against tests/data/eval/metrics.safetensors, whose expected values come from
// scikit-learn (top_k_accuracy_score, balanced_accuracy_score) and numpy's stable argsort
// (tools/make_eval_fixtures.py): random scores, exact ties everywhere, classes without samples, k above
// the number of classes or images, constant rows. Also the tie rule on a hand-checked row, and errors.
#include <cmath>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/eval/metrics.hpp"

using namespace evaclip;
using namespace evaclip::eval;

namespace {

const SafetensorsFile& fixture() {
  static const SafetensorsFile f(test::data_path("eval/metrics.safetensors"));
  return f;
}

std::vector<double> doubles(const Tensor& t) { return t.to_vector(); }

const int kCls[] = {1, 5};
const int kRet[] = {1, 5, 10};

}  // namespace

TEST(Metrics, ClassificationMatchesScikitLearnAndNumpy) {
  for (const char* name : {"random", "ties", "empty_classes", "few_classes", "constant"}) {
    SCOPED_TRACE(name);
    const std::string p = std::string("cls.") + name + ".";
    const Tensor logits = fixture().tensor(p + "logits");
    const auto labels = test::int64_values(fixture().tensor(p + "labels"));
    const ClassificationMetrics m = classification_metrics(logits, labels, kCls);
    const auto top_k = doubles(fixture().tensor(p + "top_k"));
    const auto mean = doubles(fixture().tensor(p + "mean_per_class"));
    const Tensor per = fixture().tensor(p + "per_class");  // (2, C), NaN = no samples
    const std::int64_t c = logits.shape()[1];
    EXPECT_EQ(m.samples, logits.shape()[0]);
    EXPECT_EQ(m.class_count, test::int64_values(fixture().tensor(p + "class_count")));
    for (std::size_t q = 0; q < 2; ++q) {
      EXPECT_EQ(m.top_k[q], top_k[q]) << "top-" << kCls[q];
      // The mean of the per-class values: numpy's pairwise sum may round differently from a loop.
      EXPECT_DOUBLE_EQ(m.mean_per_class[q], mean[q]) << "top-" << kCls[q];
      const auto expected = doubles(per.slice(0, std::int64_t(q), std::int64_t(q) + 1));
      for (std::int64_t k = 0; k < c; ++k) {
        const auto& got = m.per_class[q][std::size_t(k)];
        if (std::isnan(expected[std::size_t(k)])) {
          EXPECT_FALSE(got.has_value()) << "class " << k;
        } else {
          ASSERT_TRUE(got.has_value()) << "class " << k;
          EXPECT_EQ(*got, expected[std::size_t(k)]) << "class " << k;
        }
      }
    }
  }
}

TEST(Metrics, RetrievalMatchesScikitLearnAndNumpy) {
  for (const char* name : {"random", "ties", "few_images"}) {
    SCOPED_TRACE(name);
    const std::string p = std::string("ret.") + name + ".";
    const Tensor scores = fixture().tensor(p + "scores");
    const RetrievalMetrics m =
        retrieval_metrics(scores, test::int64_values(fixture().tensor(p + "caption_image")), kRet);
    EXPECT_EQ(m.texts, scores.shape()[0]);
    EXPECT_EQ(m.images, scores.shape()[1]);
    EXPECT_EQ(m.text_to_image, doubles(fixture().tensor(p + "t2i")));
    EXPECT_EQ(m.image_to_text, doubles(fixture().tensor(p + "i2t")));
  }
}

TEST(Metrics, EqualScoresRankByIndex) {
  // Scores 1 3 3 0 3: index 1 is first, then 2, then 4 (equal scores, lower index first), then 0, then 3.
  const float s[] = {1, 3, 3, 0, 3};
  const std::int64_t expected[] = {3, 0, 1, 4, 2};
  for (std::int64_t t = 0; t < 5; ++t) EXPECT_EQ(rank_of(s, 5, t), expected[t]) << t;
}

TEST(Metrics, BadInputsAreErrors) {
  Tensor logits = Tensor::zeros({2, 3}, DType::f32);
  const std::vector<std::int64_t> ok{0, 2}, bad{0, 3}, short_labels{1};
  EXPECT_THROW_MSG(classification_metrics(logits, bad, kCls), "label 3 of sample 1 is not a class index 0..2");
  EXPECT_THROW_MSG(classification_metrics(logits, short_labels, kCls), "1 labels for 2 rows");
  const int zero[] = {0};
  EXPECT_THROW_MSG(classification_metrics(logits, ok, zero), "k = 0");
  EXPECT_THROW_MSG(classification_metrics(Tensor::zeros({2, 3}, DType::f64), ok, kCls), "must be contiguous float32");
  logits.data<float>()[4] = NAN;
  EXPECT_THROW_MSG(classification_metrics(logits, ok, kCls), "score row 1 holds NaN");
  EXPECT_THROW_MSG(classification_metrics(Tensor::zeros({0, 3}, DType::f32), {}, kCls), "no samples");

  const Tensor scores = Tensor::zeros({3, 2}, DType::f32);
  const std::vector<std::int64_t> no_second{0, 0, 0}, outside{0, 1, 2};
  EXPECT_THROW_MSG(retrieval_metrics(scores, no_second, kRet), "image 1 has no caption");
  EXPECT_THROW_MSG(retrieval_metrics(scores, outside, kRet), "caption 2 links to image 2, not 0..1");
}
