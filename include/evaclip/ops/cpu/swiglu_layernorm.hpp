// swiglu_layernorm.hpp (cpu) — defines swiglu_layernorm_forward / swiglu_layernorm_backward: EVA02's SwiGLU
// with its inner LayerNorm (ffn_ln), y = LN(silu(gate) * value) over the hidden dimension F.
//
// h = swiglu(gate, value) is rounded to T as swiglu() stores it and normalised by the LayerNorm kernel, so
// y is bit-identical to swiglu() followed by layernorm(). Only mean and rstd are saved: the backward
// recomputes h from gate and value (the same bits), which spares training an (R, F) activation.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/activations.hpp"
#include "evaclip/ops/cpu/layernorm.hpp"

namespace evaclip::cpu {

// y: (R, F); mean, rstd: (R,); gate, value: (R, F); w, b: (F,), b may be null.
template <class Acc, class T>
void swiglu_layernorm_forward(Backend be, T* y, Acc* mean, Acc* rstd, const T* gate, const T* value, const T* w,
                              const T* b, std::int64_t R, std::int64_t F, double eps) {
  if (R == 0 || F == 0) return;
  // h goes through a temporary of at most ~4M elements (a block of rows), not a full (R, F) buffer.
  const std::int64_t rows = std::clamp<std::int64_t>((std::int64_t(1) << 22) / F, 1, R);
  std::vector<T> h(std::size_t(rows * F));
  for (std::int64_t r0 = 0; r0 < R; r0 += rows) {
    const std::int64_t n = std::min(rows, R - r0);
    swiglu_forward<Acc>(be, h.data(), gate + r0 * F, value + r0 * F, n * F);
    layernorm_forward<Acc>(be, y + r0 * F, mean + r0, rstd + r0, h.data(), w, b, n, F, eps);
  }
}

// dy: (R, F); dgate, dvalue: (R, F), dw, db: (F,); any output may be null (not wanted); all are overwritten.
// gate, value, w: the forward's inputs; mean, rstd: its saved statistics.
template <class Acc, class T>
void swiglu_layernorm_backward(Backend be, T* dgate, T* dvalue, T* dw, T* db, const T* dy, const T* gate,
                               const T* value, const T* w, const Acc* mean, const Acc* rstd, std::int64_t R,
                               std::int64_t F) {
  const std::int64_t n = R * F;
  const bool want_dh = dgate || dvalue;
  if (!want_dh && !dw && !db) return;
  std::vector<T> h(static_cast<std::size_t>(n)), dh(want_dh ? static_cast<std::size_t>(n) : 0);
  swiglu_forward<Acc>(be, h.data(), gate, value, n);  // the forward's h, bit for bit
  layernorm_backward<Acc>(be, want_dh ? dh.data() : nullptr, dw, db, dy, h.data(), w, mean, rstd, R, F);
  if (want_dh) swiglu_backward<Acc>(be, dgate, dvalue, dh.data(), gate, value, n);
}

}  // namespace evaclip::cpu
