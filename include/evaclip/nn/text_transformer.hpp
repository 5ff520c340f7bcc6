// text_transformer.hpp — defines nn::TextTransformer: the CLIP text tower.
//
// ids (B, L) -> token + positional embedding -> causal blocks -> ln_final -> the row at argmax(ids)
// (the end-of-text token, the largest id) -> x · text_projection -> (B, E), unnormalised (docs/model-spec.md §3).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "evaclip/nn/config.hpp"
#include "evaclip/nn/text_block.hpp"
#include "evaclip/ops/embedding.hpp"
#include "evaclip/ops/gather_rows.hpp"
#include "evaclip/ops/matmul.hpp"

namespace evaclip::nn {

// The position of the largest id in each row (first occurrence), as (B, 1) indices.
inline Tensor eot_positions(const Tensor& ids) {
  EVACLIP_CHECK(ids.rank() == 2 && (ids.dtype() == DType::i64 || ids.dtype() == DType::i32),
                "text tower: input_ids must be int64 or int32 (B, L), got ", dtype_name(ids.dtype()), " ",
                to_string(ids.shape()));
  const std::vector<double> v = ids.to_vector();
  const std::int64_t B = ids.size(0), L = ids.size(1);
  Tensor pos = Tensor::empty({B, 1}, DType::i64);
  for (std::int64_t b = 0; b < B; ++b) {
    const auto row = v.begin() + b * L;
    pos.data<std::int64_t>()[b] = std::max_element(row, row + L) - row;
  }
  return pos;
}

struct TextTransformer {
  TextCfg cfg;
  Var token_embedding;       // (V, W)
  Var positional_embedding;  // (L, W)
  std::vector<TextBlock> resblocks;
  LayerNorm ln_final;
  Var text_projection;       // (W, E): applied as x · P (not nn.Linear layout)

  TextTransformer(ParamInit& init, const TextCfg& c, std::int64_t embed_dim) : cfg(c) {
    cfg.validate();
    const std::int64_t W = cfg.width;
    token_embedding = init.normal({cfg.vocab_size, W}, 0.02);
    positional_embedding = init.normal({cfg.context_length, W}, 0.01);
    resblocks.reserve(std::size_t(cfg.layers));
    for (std::int64_t i = 0; i < cfg.layers; ++i) resblocks.emplace_back(init, W, cfg.heads, cfg.mlp_hidden(), cfg.eps);
    ln_final = LayerNorm(init, W, cfg.eps);
    text_projection = init.normal({W, embed_dim}, 1.0 / std::sqrt(double(W)));
  }

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Tensor& ids) const {  // (B, L) ids -> (B, E)
    const Tensor eot = eot_positions(ids).to(B::device);
    EVACLIP_CHECK(ids.size(1) == cfg.context_length, "text tower: input_ids ", to_string(ids.shape()),
                  " do not fit context_length ", cfg.context_length);
    const Tensor ids64 = ids.to(Device::cpu).to(DType::i64).to(B::device);
    Var x = add(t, embedding(t, token_embedding, ids64), positional_embedding);  // (B, L, W)
    for (const TextBlock& blk : resblocks) x = blk(t, x);
    x = reshape(t, gather_rows(t, ln_final(t, x), eot), {ids.size(0), cfg.width});  // (B, W)
    return matmul(t, x, text_projection);
  }

  // `p` is "" for the official CLIP class (text keys at the top level) and "text." for CustomCLIP/open_clip.
  void params(const std::string& p, ParamList& out) const {
    out.push_back({p + "positional_embedding", positional_embedding});
    out.push_back({p + "text_projection", text_projection});
    out.push_back({p + "token_embedding.weight", token_embedding});
    for (std::size_t i = 0; i < resblocks.size(); ++i)
      resblocks[i].params(p + "transformer.resblocks." + std::to_string(i) + ".", out);
    ln_final.params(p + "ln_final.", out);
  }
};

}  // namespace evaclip::nn
