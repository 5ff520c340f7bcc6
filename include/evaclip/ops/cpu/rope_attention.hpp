// rope_attention.hpp (cpu) — defines rope_attention_forward / rope_attention_backward: 2D RoPE on q and k
// followed by scaled-dot-product attention, the reference for the fused GPU kernel.
//
// Exactly the composition rope2d(q), rope2d(k), attention(): the rotated q and k are rounded to T in
// scratch by cpu::rope2d_forward, then cpu::attention_forward runs on them, so the result is bit-identical
// to the three tape ops. The backward recomputes the rotated q/k (cheaper to redo than to keep), runs
// cpu::attention_backward into scratch gradients of the rotated q/k, and maps those back through
// cpu::rope2d_backward. cos == nullptr means no RoPE: plain attention (text tower, EVA01, EVA02-E).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/ops/attention_args.hpp"
#include "evaclip/ops/cpu/attention.hpp"
#include "evaclip/ops/cpu/rope.hpp"

namespace evaclip::cpu {

namespace detail {
// q and k rotated into qr and kr (resized to their size); returns the pointers attention should read: the
// inputs themselves when there are no tables.
template <class T, class Acc>
std::pair<const T*, const T*> rotated_qk(Backend be, const AttentionArgs<T, Acc>& a, std::vector<T>& qr,
                                         std::vector<T>& kr) {
  if (!a.rope()) return {a.q, a.k};
  qr.resize(std::size_t(a.elements()));
  kr.resize(std::size_t(a.elements()));
  for (auto [dst, src] : {std::pair{qr.data(), a.q}, std::pair{kr.data(), a.k}})
    rope2d_forward<Acc>(be, dst, src, a.cos, a.sin, a.batch, a.heads, a.tokens, a.head_dim, a.prefix, a.per_sample);
  return {qr.data(), kr.data()};
}
}  // namespace detail

// o: (B, H, L, hd); lse: (B, H, L), the row log-sum-exp the backward reads.
template <class T, class Acc>
void rope_attention_forward(Backend be, T* o, Acc* lse, const AttentionArgs<T, Acc>& a) {
  std::vector<T> qr, kr;
  const auto [qa, ka] = detail::rotated_qk(be, a, qr, kr);
  attention_forward<Acc>(be, o, lse, qa, ka, a.v, a.batch * a.heads, a.tokens, a.head_dim, a.causal, a.scale);
}

// dq, dk, dv: (B, H, L, hd), overwritten; a null one is not computed. dout: (B, H, L, hd); lse: the forward's.
template <class T, class Acc>
void rope_attention_backward(Backend be, T* dq, T* dk, T* dv, const T* dout, const Acc* lse,
                             const AttentionArgs<T, Acc>& a) {
  std::vector<T> qr, kr;
  const auto [qa, ka] = detail::rotated_qk(be, a, qr, kr);
  const std::int64_t BH = a.batch * a.heads, L = a.tokens, hd = a.head_dim;
  if (!a.rope()) {
    attention_backward<Acc>(be, dq, dk, dv, dout, qa, ka, a.v, lse, BH, L, hd, a.causal, a.scale);
    return;
  }
  // The gradients of the rotated q/k land in scratch, then go back through Rᵀ.
  const std::size_t n = std::size_t(a.elements());
  std::vector<T> dqr(dq ? n : 0), dkr(dk ? n : 0);
  attention_backward<Acc>(be, dq ? dqr.data() : nullptr, dk ? dkr.data() : nullptr, dv, dout, qa, ka, a.v, lse, BH, L,
                          hd, a.causal, a.scale);
  for (auto [grad, rotated] : {std::pair{dq, dqr.data()}, std::pair{dk, dkr.data()}})
    if (grad) rope2d_backward<Acc>(be, grad, rotated, a.cos, a.sin, a.batch, a.heads, L, hd, a.prefix, a.per_sample);
}

}  // namespace evaclip::cpu
