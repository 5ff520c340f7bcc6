// Tests eval/similarity.hpp and eval/zero_shot.hpp: the classifier (mean of normalised prompt embeddings,
// normalised again) and the logits (100 x normalised image embedding . classifier) against the formulas
// written out in double here; the official model's logits (tests/data/eval/e2e_expected.safetensors) from
// its own embeddings and classifier; zero rows; errors.
#include <cmath>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/eval/zero_shot.hpp"

using namespace evaclip;
using namespace evaclip::eval;

namespace {

// (rows, d) double: each row over its norm.
std::vector<double> normalized(const std::vector<double>& x, std::int64_t d) {
  std::vector<double> out(x.size());
  for (std::size_t r = 0; r < x.size() / std::size_t(d); ++r) {
    double ss = 0;
    for (std::int64_t j = 0; j < d; ++j) ss += x[r * d + j] * x[r * d + j];
    for (std::int64_t j = 0; j < d; ++j) out[r * d + j] = x[r * d + j] / std::sqrt(ss);
  }
  return out;
}

}  // namespace

TEST(ZeroShot, ClassifierIsTheRenormalisedMeanOfNormalisedPrompts) {
  const std::int64_t classes = 5, templates = 7, e = 12;
  const Tensor prompts = test::randn({classes * templates, e}, DType::f32, 3, 2.0);
  const auto unit = normalized(prompts.to_vector(), e);
  std::vector<double> mean(std::size_t(classes * e), 0.0);
  for (std::int64_t c = 0; c < classes; ++c)
    for (std::int64_t t = 0; t < templates; ++t)
      for (std::int64_t j = 0; j < e; ++j) mean[c * e + j] += unit[(c * templates + t) * e + j] / double(templates);
  const Tensor expected = Tensor::from({classes, e}, DType::f64, normalized(mean, e));
  EXPECT_TRUE(test::allclose(expected, zero_shot_classifier(prompts, classes).to(DType::f64), 1e-7, 1e-6));
}

TEST(ZeroShot, LogitsAreOneHundredTimesTheCosine) {
  const std::int64_t n = 9, c = 4, e = 16;
  const Tensor images = test::randn({n, e}, DType::f32, 5, 3.0);
  const Tensor classifier = l2_normalize_rows(test::randn({c, e}, DType::f32, 6));
  const auto fi = normalized(images.to_vector(), e), w = classifier.to_vector();
  std::vector<double> logits(std::size_t(n * c));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < c; ++k)
      for (std::int64_t j = 0; j < e; ++j) logits[i * c + k] += 100.0 * fi[i * e + j] * w[k * e + j];
  EXPECT_TRUE(test::allclose(Tensor::from({n, c}, DType::f64, logits),
                             zero_shot_logits(images, classifier).to(DType::f64), 1e-4, 1e-6));
}

TEST(ZeroShot, OfficialLogitsFromOfficialEmbeddings) {
  const SafetensorsFile f(test::data_path("eval/e2e_expected.safetensors"));
  const Tensor logits =
      zero_shot_logits(f.tensor("zeroshot_folder.image_embeddings", DType::f32), f.tensor("classifier", DType::f32));
  EXPECT_TRUE(test::allclose(f.tensor("zeroshot_folder.logits"), logits.to(DType::f64), 1e-4, 1e-6));
}

TEST(ZeroShot, ZeroRowsStayZeroAndShapesAreChecked) {
  const Tensor z = l2_normalize_rows(Tensor::zeros({2, 3}, DType::f32));
  for (double v : z.to_vector()) EXPECT_EQ(v, 0.0);
  EXPECT_THROW_MSG(zero_shot_classifier(Tensor::zeros({7, 3}, DType::f32), 2),
                   "7 prompt embeddings are not the same number of prompts for each of 2 classes");
  EXPECT_THROW_MSG(zero_shot_logits(Tensor::zeros({2, 3}, DType::f32), Tensor::zeros({4, 5}, DType::f32)),
                   "similarity: (2, 3) and (4, 5) differ in width");
  EXPECT_THROW_MSG(l2_normalize_rows(Tensor::zeros({2, 3}, DType::f64)),
                   "l2_normalize_rows: expects contiguous float32");
}
