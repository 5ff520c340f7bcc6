// vision_transformer.hpp — defines nn::VisionTransformer<Block>: the EVA image tower.
//
// images (B, 3, S, S) -> patch embed (B, N, D) -> [CLS] + patches, + pos_embed -> [patch dropout] ->
// blocks [with drop path] -> norm -> CLS token -> head (with bias) -> (B, E), unnormalised (docs/model-spec.md §2).
// Patch dropout and drop path run only in a training forward, one given an Rng.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "evaclip/autograd/checkpoint.hpp"
#include "evaclip/nn/config.hpp"
#include "evaclip/nn/patch_dropout.hpp"
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
    head = Linear(init, D, embed_dim, true, 0.02 * 0.001);  // a fresh head starts near zero (docs/model-spec.md §5)
    // With intp_freq the table always spans the pretraining grid pt_hw_seq_len over this model's grid.
    if constexpr (Block::uses_rope) rope = rope2d_tables(cfg.grid(), cfg.head_width, cfg.pt_hw_seq_len);
  }

  // The forward. With rng (training) it draws the patch dropout choice, then every block's drop path
  // factors, all before the first block runs; without it (eval) nothing is dropped and no rng is needed.
  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& images, Rng* rng = nullptr) const {  // (B, 3, S, S) -> (B, E)
    Var x = embed(t, images);
    auto [cos, sin] = rope_tables<P, B>();
    const std::int64_t batch = x.shape()[0];
    if (rng && cfg.patch_dropout > 0) {
      const Tensor keep = patch_dropout_indices(*rng, batch, cfg.num_patches(), cfg.patch_dropout).to(B::device);
      PatchDropped d = patch_dropout(t, x, cos, sin, keep);
      x = d.x;
      cos = d.cos;
      sin = d.sin;
    }
    return forward_tokens(t, x, cos, sin, rng ? draw_drop_path<P, B>(*rng, batch) : std::vector<BranchDrop>{});
  }

  // Patch embedding, CLS and positional embedding: (B, 3, S, S) -> (B, 1 + N, D), CLS at index 0.
  template <class P, class B>
  Var embed(Tape<P, B>& t, const Var& images) const {
    const Shape& s = images.shape();
    EVACLIP_CHECK(s.size() == 4 && s[1] == 3 && s[2] == cfg.image_size && s[3] == cfg.image_size,
                  "vision tower: pixel_values ", to_string(s), " do not fit the model's (B, 3, ", cfg.image_size,
                  ", ", cfg.image_size, ")");
    const Var x = patch_embed(t, images, patch_weight, patch_bias, cfg.patch_size);  // (B, N, D)
    return add(t, concat(t, {expand_batch(t, cls_token, s[0]), x}, 1), pos_embed);
  }

  // The RoPE tables (N, hd) in the compute type on B's device, as rope2d and patch_dropout expect;
  // undefined without RoPE.
  template <class P, class B = Cpu>
  std::pair<Tensor, Tensor> rope_tables() const {
    if constexpr (Block::uses_rope)
      return {rope.cos.to(P::compute_dtype).to(B::device), rope.sin.to(P::compute_dtype).to(B::device)};
    else return {};
  }

  // Every block's drop path factors for a batch: block i at rate cfg.drop_path_at(i), attention branch
  // then MLP branch; blocks at rate 0 draw nothing and are left undefined.
  template <class P, class B>
  std::vector<BranchDrop> draw_drop_path(Rng& rng, std::int64_t batch) const {
    std::vector<BranchDrop> out(blocks.size());
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const double rate = cfg.drop_path_at(std::int64_t(i));
      if (rate == 0) continue;
      out[i].attn = drop_path_scales(rng, batch, rate, P::compute_dtype, B::device);
      out[i].mlp = drop_path_scales(rng, batch, rate, P::compute_dtype, B::device);
    }
    return out;
  }

  // Blocks, norm, CLS row and head: tokens (B, 1 + T, D) -> (B, E). cos, sin: RoPE tables (T, hd) or
  // (B, T, hd) (after patch dropout); drop: one entry per block, or empty for none.
  template <class P, class B>
  Var forward_tokens(Tape<P, B>& t, Var x, const Tensor& cos, const Tensor& sin,
                     const std::vector<BranchDrop>& drop = {}) const {
    EVACLIP_CHECK(drop.empty() || drop.size() == blocks.size(), "vision tower: ", drop.size(),
                  " drop path entries for ", blocks.size(), " blocks");
    const std::int64_t batch = x.shape()[0], D = cfg.width;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      // Captures the tables and factors by value: a checkpointed block re-runs during backward, after
      // this returns, and must see the same ones.
      const BranchDrop d = drop.empty() ? BranchDrop{} : drop[i];
      auto run = [&blk = blocks[i], cos, sin, d](Tape<P, B>& tt, const Var& v) {
        return blk(tt, v, RopeRef{&cos, &sin}, d);
      };
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
