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
#include "evaclip/ops/attention_kernel.hpp"
#include "evaclip/ops/cpu/attention.hpp"
#include "evaclip/ops/cpu/rope.hpp"

namespace evaclip::cpu {

namespace detail {
// q and k rotated into qr and kr (resized to n); returns the pointers attention should read: the inputs
// themselves when there are no tables.
template <class Acc, class T>
std::pair<const T*, const T*> rotated_qk(Backend be, const T* q, const T* k, const Acc* cos, const Acc* sin,
                                         std::int64_t B, std::int64_t H, std::int64_t L, std::int64_t hd,
                                         std::int64_t prefix, bool per_sample, std::vector<T>& qr, std::vector<T>& kr) {
  if (!cos) return {q, k};
  const std::size_t n = std::size_t(B * H * L * hd);
  qr.resize(n);
  kr.resize(n);
  rope2d_forward<Acc>(be, qr.data(), q, cos, sin, B, H, L, hd, prefix, per_sample);
  rope2d_forward<Acc>(be, kr.data(), k, cos, sin, B, H, L, hd, prefix, per_sample);
  return {qr.data(), kr.data()};
}
}  // namespace detail

// o, q, k, v: (B, H, L, hd); lse: (B, H, L); cos, sin: (L - prefix, hd), or (B, L - prefix, hd) when
// per_sample, or both null for no RoPE.
template <class Acc, class T>
void rope_attention_forward(Backend be, T* o, Acc* lse, const T* q, const T* k, const T* v, const Acc* cos,
                            const Acc* sin, std::int64_t B, std::int64_t H, std::int64_t L, std::int64_t hd,
                            std::int64_t prefix, bool per_sample, bool causal, double scale) {
  std::vector<T> qr, kr;
  const auto [qa, ka] = detail::rotated_qk<Acc>(be, q, k, cos, sin, B, H, L, hd, prefix, per_sample, qr, kr);
  attention_forward<Acc>(be, o, lse, qa, ka, v, B * H, L, hd, causal, scale);
}

// The tape op's entry point: the CPU has one reference for every AttentionKernel, so K is ignored.
template <class Acc, AttentionKernel K, class T>
void rope_attention_forward(Backend be, T* o, Acc* lse, const T* q, const T* k, const T* v, const Acc* cos,
                            const Acc* sin, std::int64_t B, std::int64_t H, std::int64_t L, std::int64_t hd,
                            std::int64_t prefix, bool per_sample, bool causal, double scale) {
  rope_attention_forward<Acc>(be, o, lse, q, k, v, cos, sin, B, H, L, hd, prefix, per_sample, causal, scale);
}

// dq, dk, dv: (B, H, L, hd), overwritten; a null one is not computed. lse: the forward's.
template <class Acc, class T>
void rope_attention_backward(Backend be, T* dq, T* dk, T* dv, const T* dout, const T* q, const T* k, const T* v,
                             const Acc* lse, const Acc* cos, const Acc* sin, std::int64_t B, std::int64_t H,
                             std::int64_t L, std::int64_t hd, std::int64_t prefix, bool per_sample, bool causal,
                             double scale) {
  std::vector<T> qr, kr;
  const auto [qa, ka] = detail::rotated_qk<Acc>(be, q, k, cos, sin, B, H, L, hd, prefix, per_sample, qr, kr);
  if (!cos) {
    attention_backward<Acc>(be, dq, dk, dv, dout, qa, ka, v, lse, B * H, L, hd, causal, scale);
    return;
  }
  // The gradients of the rotated q/k land in scratch, then go back through Rᵀ.
  const std::size_t n = std::size_t(B * H * L * hd);
  std::vector<T> dqr(dq ? n : 0), dkr(dk ? n : 0);
  attention_backward<Acc>(be, dq ? dqr.data() : nullptr, dk ? dkr.data() : nullptr, dv, dout, qa, ka, v, lse, B * H, L,
                          hd, causal, scale);
  if (dq) rope2d_backward<Acc>(be, dq, dqr.data(), cos, sin, B, H, L, hd, prefix, per_sample);
  if (dk) rope2d_backward<Acc>(be, dk, dkr.data(), cos, sin, B, H, L, hd, prefix, per_sample);
}

}  // namespace evaclip::cpu
