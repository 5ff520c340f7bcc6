// clip.hpp — defines nn::Clip<VisionBlock>: the two towers, the learned temperature and the symmetric
// InfoNCE loss (docs/model-spec.md §4).
#pragma once

#include <cmath>
#include <limits>
#include <string>

#include "evaclip/nn/text_transformer.hpp"
#include "evaclip/nn/vision_transformer.hpp"
#include "evaclip/ops/cross_entropy.hpp"
#include "evaclip/ops/exp_clamp.hpp"
#include "evaclip/ops/l2_normalize.hpp"

namespace evaclip::nn {

// Where the text tower's keys live: the official CLIP class keeps them at the top level, CustomCLIP and
// open_clip under "text." (docs/model-spec.md §6).
enum class TextKeys { top_level, prefixed };

template <class VisionBlock>
struct Clip {
  ClipCfg cfg;
  VisionTransformer<VisionBlock> visual;
  TextTransformer text;
  Var logit_scale;  // () scalar; temperature = exp(logit_scale), init ln(1/0.07)
  // (n,) i64 0..n-1, the loss's labels (image i belongs with caption i), kept from the last forward with both
  // towers: rebuilt only when the batch size or device changes (on CUDA a build is a synchronous copy). So
  // forwards of one Clip object must not run concurrently.
  mutable Tensor labels_;

  Clip(ParamInit& init, const ClipCfg& c)
      : cfg(c), visual(init, c.vision, c.embed_dim), text(init, c.text, c.embed_dim),
        logit_scale(init.constant({}, std::log(1.0 / 0.07))) {}

  struct Output {
    Var image_features;    // (N, E) unnormalised
    Var text_features;     // (M, E) unnormalised
    Var scale;             // () exp(logit_scale)
    Var logits_per_image;  // (N, M) = scale * norm(fi) norm(ft)^T
    Var loss;              // () symmetric cross-entropy, labels 0..N-1 (N == M only)
  };

  // Either input may be undefined (Var() / Tensor()): only the other tower runs, and the logits and loss
  // stay undefined. With rng (training) the image tower applies patch dropout and drop path as configured
  // (VisionTransformer::operator()); without it the forward is the eval forward.
  template <class P, class B>
  Output forward(Tape<P, B>& t, const Var& images, const Tensor& ids, Rng* rng = nullptr) const {
    Output o;
    if (images.defined()) o.image_features = visual(t, images, rng);
    if (ids.defined()) o.text_features = text(t, ids);
    // The forward uses exp(logit_scale) unclamped, as the official model does; the optimiser clamps the
    // parameter to [0, ln 100] after each step.
    constexpr double inf = std::numeric_limits<double>::infinity();
    o.scale = exp_clamp(t, logit_scale, -inf, inf);
    if (!images.defined() || !ids.defined()) return o;
    const Var fi = l2_normalize(t, o.image_features), ft = l2_normalize(t, o.text_features);
    o.logits_per_image = scale(t, matmul(t, fi, ft, false, true), o.scale);
    const std::int64_t n = fi.shape()[0];
    if (n == ft.shape()[0]) {
      if (!labels_.defined() || labels_.numel() != n || labels_.device() != B::device) {
        Tensor l = Tensor::empty({n}, DType::i64);
        for (std::int64_t i = 0; i < n; ++i) l.data<std::int64_t>()[i] = i;
        labels_ = l.to(B::device);
      }
      const Tensor& labels = labels_;
      const Var logits_per_text = scale(t, matmul(t, ft, fi, false, true), o.scale);
      o.loss = scale(t, add(t, cross_entropy(t, o.logits_per_image, labels), cross_entropy(t, logits_per_text, labels)), 0.5);
    }
    return o;
  }

  ParamList params(TextKeys layout = TextKeys::prefixed) const {
    ParamList out;
    visual.params("visual.", out);
    text.params(layout == TextKeys::prefixed ? "text." : "", out);
    out.push_back({"logit_scale", logit_scale});
    return out;
  }
};

}  // namespace evaclip::nn
