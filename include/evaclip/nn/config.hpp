// config.hpp — defines VisionCfg, TextCfg and ClipCfg: a model's run-time dimensions, with the official
// model_configs field names and defaults (docs/model-spec.md §1a). The block family is compile-time (vision_block.hpp).
#pragma once

#include <cstdint>

#include "evaclip/core/error.hpp"

namespace evaclip::nn {

struct VisionCfg {
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;
  std::int64_t width = 768;
  std::int64_t layers = 12;
  std::int64_t head_width = 64;
  double mlp_ratio = 4.0;
  std::int64_t pt_hw_seq_len = 16;  // the RoPE pretraining grid (EVA02)
  double ls_init_value = 0.0;       // layer scale gamma init; 0 = no layer scale
  double eps = 1e-6;                // every vision LayerNorm (norm1/2, inner_attn_ln, ffn_ln, norm)
  double patch_dropout = 0.0;       // training only: fraction of patch tokens dropped (docs/model-spec.md §2d)
  double drop_path_rate = 0.0;      // training only: the last block's drop path rate

  std::int64_t grid() const { return image_size / patch_size; }
  std::int64_t num_patches() const { return grid() * grid(); }
  std::int64_t heads() const { return width / head_width; }
  // int(width * mlp_ratio) in double arithmetic, as the official code computes it (2730 for L, 6144 for g).
  std::int64_t mlp_hidden() const { return static_cast<std::int64_t>(double(width) * mlp_ratio); }
  // Block i's drop path rate: linspace(0, drop_path_rate, layers)[i], the official stochastic depth decay
  // (which computes it in fp32: the values agree to 1e-7).
  double drop_path_at(std::int64_t block) const {
    return layers > 1 ? drop_path_rate * double(block) / double(layers - 1) : 0.0;
  }
  void validate() const {
    EVACLIP_CHECK(image_size > 0 && patch_size > 0 && image_size % patch_size == 0, "vision_cfg: image_size ",
                  image_size, " is not a multiple of patch_size ", patch_size);
    EVACLIP_CHECK(width > 0 && head_width > 0 && width % head_width == 0, "vision_cfg: width ", width,
                  " is not a multiple of head_width ", head_width);
    EVACLIP_CHECK(layers > 0 && mlp_ratio > 0, "vision_cfg: layers and mlp_ratio must be positive");
    EVACLIP_CHECK(patch_dropout >= 0 && patch_dropout < 1, "vision_cfg: patch_dropout ", patch_dropout,
                  " is outside [0, 1)");
    EVACLIP_CHECK(drop_path_rate >= 0 && drop_path_rate <= 1, "vision_cfg: drop_path_rate ", drop_path_rate,
                  " is outside [0, 1]");
  }
};

struct TextCfg {
  std::int64_t context_length = 77;
  std::int64_t vocab_size = 49408;
  std::int64_t width = 512;
  std::int64_t heads = 8;
  std::int64_t layers = 12;
  double mlp_ratio = 4.0;
  double eps = 1e-5;

  std::int64_t mlp_hidden() const { return static_cast<std::int64_t>(double(width) * mlp_ratio); }
  void validate() const {
    EVACLIP_CHECK(width > 0 && heads > 0 && width % heads == 0, "text_cfg: width ", width,
                  " is not a multiple of heads ", heads);
    EVACLIP_CHECK(layers > 0 && context_length > 0 && vocab_size > 0,
                  "text_cfg: layers, context_length and vocab_size must be positive");
  }
};

struct ClipCfg {
  std::int64_t embed_dim = 512;
  VisionCfg vision;
  TextCfg text;
  void validate() const {
    EVACLIP_CHECK(embed_dim > 0, "embed_dim must be positive");
    vision.validate();
    text.validate();
  }
};

}  // namespace evaclip::nn
