// vision_transformer.hpp — defines nn::VisionTransformer<Block>: the EVA image tower.
//
// images (B, 3, S, S) -> patch embed (B, N, D) -> [CLS] + patches, + pos_embed -> blocks -> norm ->
// CLS token -> head (with bias) -> (B, E), unnormalised (spec §2).
#pragma once

#include <string>
#include <vector>

#include "evaclip/autograd/checkpoint.hpp"
#include "evaclip/nn/config.hpp"
#include "evaclip/nn/rope_table.hpp"
#include "evaclip/nn/vision_block.hpp"
#include "evaclip/ops/patch_embed.hpp"

namespace evaclip::nn {

template <class Block>
struct VisionTransformer {
  using block_type = Block;
  VisionCfg cfg;
  Var patch_weight, patch_bias;  // (D, 3, P, P), (D,)
  Var cls_token;                 // (1, 1, D)
  Var pos_embed;                 // (1, N + 1, D)
  std::vector<Block> blocks;
  LayerNorm norm;
  Linear head;                   // (E, D) with bias
  RopeTables rope;               // (N, hd) f32, for RoPE blocks
  bool grad_checkpointing = false;

  VisionTransformer(ParamInit& init, const VisionCfg& c, std::int64_t embed_dim) : cfg(c) {
    cfg.validate();
    const std::int64_t D = cfg.width, P = cfg.patch_size;
    patch_weight = init.trunc_normal({D, 3, P, P}, 0.02);
    patch_bias = init.constant({D}, 0.0);
    cls_token = init.trunc_normal({1, 1, D}, 0.02);
    pos_embed = init.trunc_normal({1, cfg.num_patches() + 1, D}, 0.02);
    blocks.reserve(std::size_t(cfg.layers));
    for (std::int64_t i = 0; i < cfg.layers; ++i)
      blocks.emplace_back(init, D, cfg.heads(), cfg.mlp_hidden(), cfg.eps, cfg.ls_init_value);
    norm = LayerNorm(init, D, cfg.eps);
    head = Linear(init, D, embed_dim, true, 0.02 * 0.001);  // spec §5: a fresh head starts near zero
    // With intp_freq the table always spans the pretraining grid pt_hw_seq_len over this model's grid.
    if constexpr (Block::uses_rope) rope = rope2d_tables(cfg.grid(), cfg.head_width, cfg.pt_hw_seq_len);
  }

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& images) const {  // (B, 3, S, S) -> (B, E)
    const Shape& s = images.shape();
    EVACLIP_CHECK(s.size() == 4 && s[1] == 3 && s[2] == cfg.image_size && s[3] == cfg.image_size,
                  "vision tower: pixel_values ", to_string(s), " do not fit the model's (B, 3, ", cfg.image_size,
                  ", ", cfg.image_size, ")");
    const std::int64_t batch = s[0], D = cfg.width;
    Var x = patch_embed(t, images, patch_weight, patch_bias, cfg.patch_size);    // (B, N, D)
    x = add(t, concat(t, {expand_batch(t, cls_token, batch), x}, 1), pos_embed);  // (B, N+1, D)
    Tensor cos, sin;  // tables in the compute type, as rope2d expects
    if constexpr (Block::uses_rope) cos = rope.cos.to(P::compute_dtype), sin = rope.sin.to(P::compute_dtype);
    for (const Block& blk : blocks) {
      // Captures the tables by value: a checkpointed block re-runs during backward, after this returns.
      auto run = [&blk, cos, sin](Tape<P, B>& tt, const Var& v) { return blk(tt, v, RopeRef{&cos, &sin}); };
      x = grad_checkpointing ? checkpoint(t, x, run) : run(t, x);
    }
    x = reshape(t, slice(t, norm(t, x), 1, 0, 1), {batch, D});  // CLS row (norm is per token)
    return head(t, x);
  }

  void params(const std::string& p, ParamList& out) const {
    out.push_back({p + "cls_token", cls_token});
    out.push_back({p + "pos_embed", pos_embed});
    out.push_back({p + "patch_embed.proj.weight", patch_weight});
    out.push_back({p + "patch_embed.proj.bias", patch_bias});
    for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i].params(p + "blocks." + std::to_string(i) + ".", out);
    norm.params(p + "norm.", out);
    head.params(p + "head.", out);
  }
};

}  // namespace evaclip::nn
