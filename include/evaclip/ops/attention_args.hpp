// attention_args.hpp — defines AttentionArgs: what the rope_attention kernels of every backend read (the
// inputs, the RoPE tables, the sizes and flags), one struct instead of sixteen positional arguments.
#pragma once

#include <cstdint>

namespace evaclip {

template <class T, class Acc>
struct AttentionArgs {
  const T* q = nullptr;  // (B, H, L, hd)
  const T* k = nullptr;  // (B, H, L, hd)
  const T* v = nullptr;  // (B, H, L, hd)
  // (L - prefix, hd) shared by the batch, or (B, L - prefix, hd) when per_sample; both null: no RoPE.
  const Acc* cos = nullptr;
  const Acc* sin = nullptr;
  std::int64_t batch = 0, heads = 0, tokens = 0, head_dim = 0;  // B, H, L, hd
  std::int64_t prefix = 0;  // leading tokens (CLS) that RoPE leaves unrotated
  bool per_sample = false;  // the tables have a batch dimension (patch dropout keeps different patches)
  bool causal = false;      // each query sees only the keys up to itself (torch's is_causal)
  double scale = 0;         // multiplies q.k; hd^-0.5 for the standard attention

  bool rope() const { return cos != nullptr; }
  std::int64_t elements() const { return batch * heads * tokens * head_dim; }  // of q, k, v and o
};

}  // namespace evaclip
