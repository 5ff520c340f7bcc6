// variants.hpp — defines the released EVA-CLIP models as types: each names its vision block family and
// its configuration (docs/model-spec.md §1a). `nn::Clip<V::vision_block>` is the model; `V::config()` its dimensions.
//
// A variant of your own is a struct with the same three members, e.g. EVA02-B/16 without sub-LN:
//   struct MyVariant {
//     static constexpr const char* name = "my-eva02-nosubln";
//     using vision_block = VisionBlock<EvaAttention<AttnFeatures{.rope = true}>, SwiGluMlp>;
//     static ClipCfg config() { return EVA02_CLIP_B_16::config(); }
//   };
#pragma once

#include "evaclip/nn/clip.hpp"

namespace evaclip::nn {

namespace detail {
inline ClipCfg clip_cfg(std::int64_t embed, VisionCfg v, std::int64_t tw, std::int64_t th, std::int64_t tl) {
  ClipCfg c;
  c.embed_dim = embed;
  c.vision = v;
  c.text.width = tw;
  c.text.heads = th;
  c.text.layers = tl;
  return c;
}
inline VisionCfg vision(std::int64_t img, std::int64_t patch, std::int64_t width, std::int64_t layers,
                        std::int64_t head_width, double mlp_ratio) {
  VisionCfg v;
  v.image_size = img;
  v.patch_size = patch;
  v.width = width;
  v.layers = layers;
  v.head_width = head_width;
  v.mlp_ratio = mlp_ratio;
  return v;
}
}  // namespace detail

struct EVA01_CLIP_B_16 {
  static constexpr const char* name = "EVA01-CLIP-B-16";
  using vision_block = Eva01LayerScaleBlock;
  static ClipCfg config() {
    VisionCfg v = detail::vision(224, 16, 768, 12, 64, 4.0);
    v.ls_init_value = 0.1;
    return detail::clip_cfg(512, v, 512, 8, 12);
  }
};
struct EVA01_CLIP_g_14 {
  static constexpr const char* name = "EVA01-CLIP-g-14";
  using vision_block = Eva01Block;
  static ClipCfg config() {
    VisionCfg v = detail::vision(224, 14, 1408, 40, 88, 4.3637);
    v.drop_path_rate = 0.4;  // the official config's (training only)
    return detail::clip_cfg(1024, v, 768, 12, 12);
  }
};
struct EVA01_CLIP_g_14_plus {
  static constexpr const char* name = "EVA01-CLIP-g-14-plus";
  using vision_block = Eva01Block;
  static ClipCfg config() { return detail::clip_cfg(1024, detail::vision(224, 14, 1408, 40, 88, 4.3637), 1024, 16, 24); }
};
struct EVA02_CLIP_B_16 {
  static constexpr const char* name = "EVA02-CLIP-B-16";
  using vision_block = Eva02Block;
  static ClipCfg config() { return detail::clip_cfg(512, detail::vision(224, 16, 768, 12, 64, 2.6667), 512, 8, 12); }
};
struct EVA02_CLIP_L_14 {
  static constexpr const char* name = "EVA02-CLIP-L-14";
  using vision_block = Eva02Block;
  static ClipCfg config() { return detail::clip_cfg(768, detail::vision(224, 14, 1024, 24, 64, 2.6667), 768, 12, 12); }
};
struct EVA02_CLIP_L_14_336 {
  static constexpr const char* name = "EVA02-CLIP-L-14-336";
  using vision_block = Eva02Block;
  static ClipCfg config() { return detail::clip_cfg(768, detail::vision(336, 14, 1024, 24, 64, 2.6667), 768, 12, 12); }
};
struct EVA02_CLIP_bigE_14 {
  static constexpr const char* name = "EVA02-CLIP-bigE-14";
  using vision_block = EvaPostNormBlock;
  static ClipCfg config() {
    return detail::clip_cfg(1024, detail::vision(224, 14, 1792, 64, 112, 8.571428571428571), 1024, 16, 24);
  }
};
struct EVA02_CLIP_bigE_14_plus {
  static constexpr const char* name = "EVA02-CLIP-bigE-14-plus";
  using vision_block = EvaPostNormBlock;
  static ClipCfg config() {
    return detail::clip_cfg(1024, detail::vision(224, 14, 1792, 64, 112, 8.571428571428571), 1280, 20, 32);
  }
};

// Calls f(V{}) for every released variant, e.g. to list them or look one up by name.
template <class F>
void for_each_variant(F&& f) {
  f(EVA01_CLIP_B_16{});
  f(EVA01_CLIP_g_14{});
  f(EVA01_CLIP_g_14_plus{});
  f(EVA02_CLIP_B_16{});
  f(EVA02_CLIP_L_14{});
  f(EVA02_CLIP_L_14_336{});
  f(EVA02_CLIP_bigE_14{});
  f(EVA02_CLIP_bigE_14_plus{});
}

}  // namespace evaclip::nn
