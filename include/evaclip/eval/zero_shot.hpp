// zero_shot.hpp — defines the zero-shot classifier and logits of docs/model-spec.md §9 on float32 embeddings: per class
// the mean of the normalised prompt embeddings, normalised again; logits = (100 x normalised image
// embedding) . classifier, in the reference's order of operations.
#pragma once

#include <cstdint>
#include <vector>

#include "evaclip/eval/similarity.hpp"

namespace evaclip::eval {

// The fixed logit scale of the reference zero-shot evaluation (not the model's learned temperature).
inline constexpr float kZeroShotScale = 100.0f;

// prompt_features: (C * T, E) unnormalised, class-major (class c's T prompts are rows c*T .. c*T+T-1).
// -> (C, E) unit rows.
inline Tensor zero_shot_classifier(const Tensor& prompt_features, std::int64_t classes) {
  detail::check_rows(prompt_features, "zero_shot_classifier");
  const std::int64_t rows = prompt_features.shape()[0], e = prompt_features.shape()[1];
  EVACLIP_CHECK(classes > 0 && rows > 0 && rows % classes == 0, "zero_shot_classifier: ", rows,
                " prompt embeddings are not the same number of prompts for each of ", classes, " classes");
  const std::int64_t t = rows / classes;
  const Tensor unit = l2_normalize_rows(prompt_features);
  Tensor mean = Tensor::empty({classes, e}, DType::f32);
  std::vector<double> acc(static_cast<std::size_t>(e));
  for (std::int64_t c = 0; c < classes; ++c) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (std::int64_t r = c * t; r < (c + 1) * t; ++r)
      for (std::int64_t j = 0; j < e; ++j) acc[std::size_t(j)] += unit.data<float>()[r * e + j];
    for (std::int64_t j = 0; j < e; ++j) mean.data<float>()[c * e + j] = float(acc[std::size_t(j)] / double(t));
  }
  return l2_normalize_rows(mean);
}

// image_features: (N, E) unnormalised; classifier: (C, E) -> (N, C).
inline Tensor zero_shot_logits(const Tensor& image_features, const Tensor& classifier, float scale = kZeroShotScale) {
  Tensor scaled = l2_normalize_rows(image_features);
  float* p = scaled.data<float>();
  for (std::int64_t i = 0; i < scaled.numel(); ++i) p[i] *= scale;
  return similarity(scaled, classifier);
}

}  // namespace evaclip::eval
