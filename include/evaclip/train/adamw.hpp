// adamw.hpp — defines adamw_update(): one AdamW step of one tensor, as torch.optim.AdamW computes it
// (decoupled weight decay). The Optimizer that owns the state is in optimizer.hpp.
//
// torch 1.13's single-tensor path, in its order of operations, for weights w, gradient g and step t:
//   w = w · (1 - lr · wd)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²
//   w = w - lr / (1 - b1^t) · m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include <cmath>
#include <cstdint>

#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::train {

struct AdamWArgs {
  double lr, weight_decay;  // this step's learning rate (after schedule and lr_scale)
  double beta1, beta2, eps;
  std::int64_t step;        // this tensor's step count including this update (from 1)
};

// Updates n weights w (W = float or double) and moments m, v in place from gradient g (any float type,
// widened to W). Element-wise only, so the result does not depend on the thread count.
template <class W, class G>
void adamw_update(std::int64_t n, W* w, const G* g, W* m, W* v, const AdamWArgs& a) {
  const double t = double(a.step);
  const W keep = W(1 - a.lr * a.weight_decay), b1 = W(a.beta1), b2 = W(a.beta2), c1 = W(1 - a.beta1),
          c2 = W(1 - a.beta2), eps = W(a.eps);
  const W step = W(a.lr / (1 - std::pow(a.beta1, t))), bc2_sqrt = W(std::sqrt(1 - std::pow(a.beta2, t)));
  cpu::parallel_for(n, [&](std::int64_t i) {
    const W gi = convert<W>(g[i]);
    w[i] *= keep;
    m[i] = m[i] * b1 + gi * c1;
    v[i] = v[i] * b2 + c2 * gi * gi;
    w[i] -= step * (m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps));
  }, 4096);
}

}  // namespace evaclip::train
