// zero_shot_eval.hpp — defines zero_shot_eval: the whole zero-shot protocol of docs/model-spec.md §9 on labelled image
// files (prompt embeddings -> classifier -> image embeddings -> logits at scale 100 -> top-1/top-5).
// evaclip-zeroshot and the demo run it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "evaclip/eval/datasets.hpp"
#include "evaclip/eval/encoder.hpp"
#include "evaclip/eval/metrics.hpp"
#include "evaclip/eval/prompts.hpp"
#include "evaclip/eval/zero_shot.hpp"

namespace evaclip::eval {

struct ZeroShotResult {
  Tensor classifier;  // (C, E) unit rows
  Tensor features;    // (N, E) image embeddings, unnormalised
  Tensor logits;      // (N, C)
  ClassificationMetrics metrics;  // top-1 and top-5
  double image_seconds = 0;       // time spent encoding the images
};

inline ZeroShotResult zero_shot_eval(const Encoder& enc, const text::Tokenizer& tok, const LabelledImages& samples,
                                     const std::vector<std::string>& classnames,
                                     const std::vector<std::string>& templates, std::int64_t batch, bool progress) {
  ZeroShotResult r;
  const Tensor prompts = encode_texts(enc, tok, make_prompts(classnames, templates), batch, progress, "prompts");
  r.classifier = zero_shot_classifier(prompts, std::int64_t(classnames.size()));
  const auto start = std::chrono::steady_clock::now();
  r.features = encode_images(enc, samples.paths, batch, progress);
  r.image_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.logits = zero_shot_logits(r.features, r.classifier);
  const int ks[] = {1, 5};
  r.metrics = classification_metrics(r.logits, samples.labels, ks);
  return r;
}

}  // namespace evaclip::eval
