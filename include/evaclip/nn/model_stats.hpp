// model_stats.hpp — defines find_variant() (a released variant's ModelConfig by name) and the model
// statistics param_count() and forward_flops(), computed from the modules themselves on a shape-only model
// (ParamInit::meta()), so they follow any block without a formula to keep in step.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "evaclip/nn/model_config.hpp"

namespace evaclip::nn {

// The released variant called `name` (variants.hpp), e.g. "EVA02-CLIP-B-16"; an error lists the valid names.
inline ModelConfig find_variant(const std::string& name) {
  ModelConfig m;
  bool found = false;
  std::string names;
  for_each_variant([&]<class V>(V) {
    names += names.empty() ? V::name : std::string(", ") + V::name;
    if (name != V::name) return;
    m.clip = V::config();
    m.block = V::vision_block::name;
    found = true;
  });
  EVACLIP_CHECK(found, "unknown model \"", name, "\" (valid: ", names, ")");
  return m;
}

struct ModelCounts {
  std::int64_t vision = 0, text = 0, total = 0;  // total includes logit_scale
};

// Parameters per tower: the elements of Clip<Block>::params() under "visual." and "text.".
template <class Block>
ModelCounts param_count(const ClipCfg& c) {
  ParamInit init = ParamInit::meta();
  const Clip<Block> model(init, c);
  ModelCounts n;
  for (const NamedParam& p : model.params(TextKeys::prefixed)) {
    const std::int64_t k = numel(p.var.shape());
    if (p.name.starts_with("visual.")) n.vision += k;
    if (p.name.starts_with("text.")) n.text += k;
    n.total += k;
  }
  return n;
}

struct ModelFlops {
  double image = 0, text = 0;  // forward FLOPs for one image / one text (multiply-add = 2)
};

// The GEMM FLOPs of one forward: every block's attention and MLP over the tower's tokens (their
// flops(tokens) members: projections, QK^T and AV, the MLP's matrices), the patch embedding, the image
// head and the text projection. Left out: norms, softmax, biases, activations and the embedding lookups
// (all O(T d)). EVA02-B/16 image 35.13 G, B text 5.96 G (docs/models.md).
template <class Block>
ModelFlops forward_flops(const ClipCfg& c) {
  ParamInit init = ParamInit::meta();
  const Clip<Block> m(init, c);
  const double patches = double(c.vision.num_patches()), T = patches + 1, L = double(c.text.context_length);
  ModelFlops f;
  f.image = gemm_flops(m.visual.patch_weight, patches) + gemm_flops(m.visual.head.weight, 1);
  for (const Block& blk : m.visual.blocks) f.image += blk.attn.flops(T) + blk.mlp.flops(T);
  f.text = gemm_flops(m.text.text_projection, 1);
  for (const TextBlock& blk : m.text.resblocks) f.text += blk.attn.flops(L) + blk.mlp.flops(L);
  return f;
}

// The same for a config whose block is chosen at run time (one of Blocks).
template <class Blocks = CompiledBlocks>
ModelCounts param_count(const ModelConfig& m) {
  return with_vision_block<Blocks>(m.block,
                                   [&]<class Block>(std::type_identity<Block>) { return param_count<Block>(m.clip); });
}
template <class Blocks = CompiledBlocks>
ModelFlops forward_flops(const ModelConfig& m) {
  return with_vision_block<Blocks>(m.block,
                                   [&]<class Block>(std::type_identity<Block>) { return forward_flops<Block>(m.clip); });
}

}  // namespace evaclip::nn
