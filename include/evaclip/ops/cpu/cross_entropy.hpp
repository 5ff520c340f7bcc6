// cross_entropy.hpp (cpu) — defines cross_entropy_forward / cross_entropy_backward: mean softmax cross-entropy.
//
// loss = (1/N) sum_r [lse_r - logits[r, label_r]], lse_r = log sum_c exp(logits[r, c]) computed stably as
// m + log sum exp(logits - m) with m the row max. lse is saved (compute type) so the backward's softmax is
// exp(logits - lse) without a second reduction. The mean sums rows through column_reduce: deterministic.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// loss: a single value; lse: (N,); logits: (N, C); labels: (N,), each in [0, C) (checked by the caller).
template <class Acc, class T>
void cross_entropy_forward(Backend, T* loss, Acc* lse, const T* logits, const std::int64_t* labels, std::int64_t N,
                           std::int64_t C) {
  Acc total = 0;
  column_reduce<Acc>(N, 1, &total, [&](std::int64_t r, Acc* sum) {
    const T* xr = logits + r * C;
    Acc m = convert<Acc>(xr[0]);
    for (std::int64_t c = 1; c < C; ++c) m = std::max(m, convert<Acc>(xr[c]));
    Acc s = 0;
    for (std::int64_t c = 0; c < C; ++c) s += std::exp(convert<Acc>(xr[c]) - m);
    lse[r] = m + std::log(s);
    *sum += lse[r] - convert<Acc>(xr[labels[r]]);
  });
  loss[0] = convert<T>(total / Acc(N));
}

// dlogits = (softmax(logits) - onehot(labels)) * dy / N, overwritten; dy: the loss's gradient (one value).
template <class Acc, class T>
void cross_entropy_backward(Backend, T* dlogits, const T* dy, const T* logits, const std::int64_t* labels,
                            const Acc* lse, std::int64_t N, std::int64_t C) {
  const Acc k = convert<Acc>(dy[0]) / Acc(N);
  parallel_ranges(N, 2 * C, [&](std::int64_t r_begin, std::int64_t r_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      for (std::int64_t c = 0; c < C; ++c) {
        const Acc p = std::exp(convert<Acc>(logits[r * C + c]) - lse[r]);
        dlogits[r * C + c] = convert<T>((p - (c == labels[r] ? Acc(1) : Acc(0))) * k);
      }
    }
  });
}

}  // namespace evaclip::cpu
