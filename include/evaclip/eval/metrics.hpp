// metrics.hpp — defines the evaluation metrics of docs/model-spec.md §9: top-k and per-class accuracy for
// classification, recall@K in both directions for image-text retrieval, with one stated rule for equal scores.
//
// Tie rule: a candidate ranks ahead of another when its score is higher, or equal and its index lower —
// the order of a stable descending sort (numpy argsort(-s, kind="stable"); top-1 is np.argmax's first
// maximum). torch.topk, which the reference evaluations call, leaves the order of equal scores
// unspecified, so exact ties are the only place where results can differ from a torch run. k at or above
// the number of candidates counts every sample as correct (as sklearn's top_k_accuracy_score does).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/core/tensor.hpp"

namespace evaclip::eval {

// Position of candidate `target` in the ranking of scores[0..n) (0 = best), under the tie rule above.
inline std::int64_t rank_of(const float* scores, std::int64_t n, std::int64_t target) {
  const float s = scores[target];
  std::int64_t rank = 0;
  for (std::int64_t j = 0; j < n; ++j) rank += scores[j] > s || (scores[j] == s && j < target);
  return rank;
}

namespace detail {
// The float32 (rows, cols) data of a score matrix, with every row free of NaN (a NaN has no rank).
inline const float* score_rows(const Tensor& scores, const char* op) {
  EVACLIP_CHECK(scores.dtype() == DType::f32 && scores.rank() == 2 && scores.is_contiguous(), op,
                ": scores must be contiguous float32 (rows, candidates), got ", dtype_name(scores.dtype()), " ",
                to_string(scores.shape()));
  const float* p = scores.data<float>();
  for (std::int64_t i = 0; i < scores.numel(); ++i)
    EVACLIP_CHECK(!std::isnan(p[i]), op, ": score row ", i / scores.shape()[1], " holds NaN");
  return p;
}
}  // namespace detail

struct ClassificationMetrics {
  std::vector<int> ks;                    // e.g. {1, 5}
  std::vector<double> top_k;              // per k: fraction of samples whose label is among the k best
  std::vector<std::int64_t> class_count;  // per class: samples with that label
  // per k, per class: that class's top-k accuracy; nullopt for a class without samples
  std::vector<std::vector<std::optional<double>>> per_class;
  std::vector<double> mean_per_class;  // per k: mean over the classes that have samples
  std::int64_t samples = 0;
};

// logits: (N, C) float32; labels: N class indices in [0, C).
inline ClassificationMetrics classification_metrics(const Tensor& logits, std::span<const std::int64_t> labels,
                                                    std::span<const int> ks) {
  const float* s = detail::score_rows(logits, "classification_metrics");
  const std::int64_t n = logits.shape()[0], c = logits.shape()[1];
  EVACLIP_CHECK(std::int64_t(labels.size()) == n, "classification_metrics: ", labels.size(), " labels for ", n,
                " rows of logits");
  EVACLIP_CHECK(n > 0, "classification_metrics: no samples");
  for (int k : ks) EVACLIP_CHECK(k >= 1, "classification_metrics: k = ", k, " (must be at least 1)");
  ClassificationMetrics m;
  m.ks.assign(ks.begin(), ks.end());
  m.samples = n;
  m.class_count.assign(std::size_t(c), 0);
  std::vector<std::vector<std::int64_t>> hits(ks.size(), std::vector<std::int64_t>(std::size_t(c), 0));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t y = labels[std::size_t(i)];
    EVACLIP_CHECK(y >= 0 && y < c, "classification_metrics: label ", y, " of sample ", i, " is not a class index 0..",
                  c - 1);
    ++m.class_count[std::size_t(y)];
    const std::int64_t r = rank_of(s + i * c, c, y);
    for (std::size_t q = 0; q < ks.size(); ++q) hits[q][std::size_t(y)] += r < ks[q];
  }
  for (std::size_t q = 0; q < ks.size(); ++q) {
    std::int64_t total = 0, present = 0;
    double sum = 0;
    std::vector<std::optional<double>> per(static_cast<std::size_t>(c));
    for (std::int64_t k = 0; k < c; ++k) {
      const std::int64_t cnt = m.class_count[std::size_t(k)], h = hits[q][std::size_t(k)];
      total += h;
      if (cnt == 0) continue;
      per[std::size_t(k)] = double(h) / double(cnt);
      sum += *per[std::size_t(k)];
      ++present;
    }
    m.top_k.push_back(double(total) / double(n));
    m.per_class.push_back(std::move(per));
    m.mean_per_class.push_back(sum / double(present));
  }
  return m;
}

struct RetrievalMetrics {
  std::vector<int> ks;                // e.g. {1, 5, 10}
  std::vector<double> text_to_image;  // per k: fraction of captions whose image is among the k best images
  std::vector<double> image_to_text;  // per k: fraction of images with any of their captions among the k best
  std::int64_t images = 0, texts = 0;
};

// scores: (T, I) float32 similarities of every caption to every image; text_image: for each caption the
// index of its image. Every image needs at least one caption.
inline RetrievalMetrics retrieval_metrics(const Tensor& scores, std::span<const std::int64_t> text_image,
                                          std::span<const int> ks) {
  const float* s = detail::score_rows(scores, "retrieval_metrics");
  const std::int64_t nt = scores.shape()[0], ni = scores.shape()[1];
  EVACLIP_CHECK(std::int64_t(text_image.size()) == nt, "retrieval_metrics: ", text_image.size(),
                " caption-image links for ", nt, " rows of scores");
  EVACLIP_CHECK(nt > 0 && ni > 0, "retrieval_metrics: no captions or no images");
  for (int k : ks) EVACLIP_CHECK(k >= 1, "retrieval_metrics: k = ", k, " (must be at least 1)");
  RetrievalMetrics m;
  m.ks.assign(ks.begin(), ks.end());
  m.images = ni, m.texts = nt;
  std::vector<std::int64_t> t2i(ks.size(), 0), i2t(ks.size(), 0);
  std::vector<std::int64_t> best(std::size_t(ni), -1);  // per image: its caption ranked first in the column
  for (std::int64_t t = 0; t < nt; ++t) {
    const std::int64_t img = text_image[std::size_t(t)];
    EVACLIP_CHECK(img >= 0 && img < ni, "retrieval_metrics: caption ", t, " links to image ", img, ", not 0..", ni - 1);
    const std::int64_t r = rank_of(s + t * ni, ni, img);
    for (std::size_t q = 0; q < ks.size(); ++q) t2i[q] += r < ks[q];
    // The best caption of an image: highest score, the lowest index among equal ones (the tie rule).
    std::int64_t& b = best[std::size_t(img)];
    if (b < 0 || s[t * ni + img] > s[b * ni + img]) b = t;
  }
  std::vector<float> column(static_cast<std::size_t>(nt));
  for (std::int64_t i = 0; i < ni; ++i) {
    EVACLIP_CHECK(best[std::size_t(i)] >= 0, "retrieval_metrics: image ", i, " has no caption");
    for (std::int64_t t = 0; t < nt; ++t) column[std::size_t(t)] = s[t * ni + i];
    const std::int64_t r = rank_of(column.data(), nt, best[std::size_t(i)]);
    for (std::size_t q = 0; q < ks.size(); ++q) i2t[q] += r < ks[q];
  }
  for (std::size_t q = 0; q < ks.size(); ++q) {
    m.text_to_image.push_back(double(t2i[q]) / double(nt));
    m.image_to_text.push_back(double(i2t[q]) / double(ni));
  }
  return m;
}

}  // namespace evaclip::eval
