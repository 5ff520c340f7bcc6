// model_stats.hpp — defines find_variant() (a released variant's ModelConfig by name) and the analytic
// model statistics: param_count() and forward_flops(), computed from the config without building a model.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "evaclip/nn/model_config.hpp"

namespace evaclip::nn {

// The VisionFamily of a compiled block (the inverse of with_vision_block).
template <class Block>
constexpr VisionFamily family_of() {
  if constexpr (std::is_same_v<Block, Eva01Block>) return VisionFamily::eva01;
  else if constexpr (std::is_same_v<Block, Eva01LayerScaleBlock>) return VisionFamily::eva01_layer_scale;
  else if constexpr (std::is_same_v<Block, Eva02Block>) return VisionFamily::eva02;
  else {
    static_assert(std::is_same_v<Block, EvaPostNormBlock>, "family_of: not a released block family");
    return VisionFamily::post_norm;
  }
}

// The released variant called `name` (variants.hpp), e.g. "EVA02-CLIP-B-16"; an error lists the valid names.
inline ModelConfig find_variant(const std::string& name) {
  ModelConfig m;
  bool found = false;
  std::string names;
  for_each_variant([&]<class V>(V) {
    names += names.empty() ? V::name : std::string(", ") + V::name;
    if (name != V::name) return;
    m.clip = V::config();
    m.family = family_of<typename V::vision_block>();
    found = true;
  });
  EVACLIP_CHECK(found, "unknown model \"", name, "\" (valid: ", names, ")");
  return m;
}

struct ModelCounts {
  std::int64_t vision = 0, text = 0, total = 0;  // total includes logit_scale
};

// Parameters per tower, as the modules in vision_transformer.hpp / text_transformer.hpp create them.
inline ModelCounts param_count(const ClipCfg& c, VisionFamily family) {
  const VisionCfg& v = c.vision;
  const std::int64_t D = v.width, F = v.mlp_hidden(), E = c.embed_dim, P = v.patch_size;
  const bool eva02 = family == VisionFamily::eva02;
  std::int64_t blk = 4 * D;                                // norm1, norm2
  blk += 3 * D * D + 2 * D + (D * D + D);                  // q/k/v (fused or not), q_bias, v_bias, proj
  if (eva02) blk += 2 * D;                                 // inner_attn_ln (sub-LN)
  blk += eva02 ? 3 * D * F + 2 * F + D + 2 * F             // SwiGLU w1, w2, w3 + ffn_ln
               : 2 * D * F + F + D;                        // GELU fc1, fc2
  if (family == VisionFamily::eva01_layer_scale) blk += 2 * D;  // gamma_1, gamma_2
  ModelCounts n;
  n.vision = (3 * P * P * D + D) + D + (v.num_patches() + 1) * D + v.layers * blk + 2 * D + (D * E + E);
  const TextCfg& t = c.text;
  const std::int64_t W = t.width, Ft = t.mlp_hidden();
  const std::int64_t tblk = 4 * W + (3 * W * W + 3 * W) + (W * W + W) + (2 * W * Ft + Ft + W);
  n.text = t.vocab_size * W + t.context_length * W + t.layers * tblk + 2 * W + W * E;
  n.total = n.vision + n.text + 1;
  return n;
}

struct ModelFlops {
  double image = 0, text = 0;  // forward FLOPs for one image / one text (multiply-add = 2)
};

// Per layer of width d over T tokens: 2 (4 d^2 + P_mlp) T + 4 T^2 d (docs/perf: QKV + output projections,
// MLP, QK^T and AV), P_mlp = 2 d F for GELU and 3 d F for SwiGLU. Added: the patch embedding
// (2 N 3P^2 d), the image head (2 d E) and the text projection (2 W E). Left out: norms, softmax, biases,
// activations and the embedding lookups (all O(T d)). EVA02-B/16 image 35.13 G, B text 5.96 G.
inline ModelFlops forward_flops(const ClipCfg& c, VisionFamily family) {
  auto layer = [](double d, double T, double p_mlp) { return 2 * (4 * d * d + p_mlp) * T + 4 * T * T * d; };
  const VisionCfg& v = c.vision;
  const double D = double(v.width), F = double(v.mlp_hidden()), N = double(v.num_patches()), P = double(v.patch_size);
  const double p_mlp = family == VisionFamily::eva02 ? 3 * D * F : 2 * D * F;
  const double W = double(c.text.width), L = double(c.text.context_length), E = double(c.embed_dim);
  ModelFlops f;
  f.image = double(v.layers) * layer(D, N + 1, p_mlp) + 2 * N * 3 * P * P * D + 2 * D * E;
  f.text = double(c.text.layers) * layer(W, L, 2 * W * double(c.text.mlp_hidden())) + 2 * W * E;
  return f;
}

}  // namespace evaclip::nn
