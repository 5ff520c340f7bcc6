// heads.hpp — defines split_heads / merge_heads: (B, T, H*hd) <-> (B, H, T, hd) for multi-head attention.
#pragma once

#include "evaclip/ops/layout.hpp"

namespace evaclip::nn {

template <class P, class B>
Var split_heads(Tape<P, B>& t, const Var& x, std::int64_t heads) {  // (B, T, D) -> (B, H, T, D/H)
  const Shape& s = x.shape();
  return permute(t, reshape(t, x, {s[0], s[1], heads, s[2] / heads}), {0, 2, 1, 3});
}

template <class P, class B>
Var merge_heads(Tape<P, B>& t, const Var& x) {  // (B, H, T, hd) -> (B, T, H*hd)
  const Shape& s = x.shape();
  return reshape(t, permute(t, x, {0, 2, 1, 3}), {s[0], s[2], s[1] * s[3]});
}

}  // namespace evaclip::nn
