// lamb.hpp — defines lamb_update(): one LAMB step of one tensor, as DeepSpeed's FusedLamb (EVA-CLIP's
// optimiser, docs/model-spec.md §5) computes it. The Optimizer that owns the state is in optimizer.hpp.
//
// What FusedLamb does (microsoft/DeepSpeed @38327e0, csrc/lamb/fused_lamb_cuda_kernel.cu and
// deepspeed/ops/lamb/fused_lamb.py, read for this port), for weights w, gradient g, moments m, v, step t:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²
//   u = m / (sqrt(v) + eps) + wd · w          -- raw moments: eps outside the root, decay inside the update
//   r = ||w|| / ||u||, clamped to [min_coeff, max_coeff]; r = 1 when ||w|| or ||u|| is 0 (not clamped)
//   w = w - lr · sqrt(1 - b2^t) / (1 - b1^t) · r · u
// Bias correction is folded into the step size, so it scales the decay term too and does not enter the
// trust ratio. ||w|| is the norm before the update; t counts this tensor's own steps (a parameter without
// a gradient is skipped and its t does not advance).
//
// The trust ratio here is per tensor, as FusedLamb computes it for the tensors it is given. Under ZeRO
// stage 1 (EVA-CLIP's runs) DeepSpeed hands the optimiser one flattened fp32 partition per parameter group
// and rank (deepspeed/runtime/zero/stage_1_and_2.py sets param_group['params'] to that single partition), so
// the official runs computed one ratio per (group, rank partition), which depends on the world size
// (docs/model-spec.md §11, point 3). Per tensor is the layout-independent definition of the published algorithm.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::train {

struct LambArgs {
  double lr, weight_decay;                 // this step's learning rate (after schedule and lr_scale)
  double beta1, beta2, eps;
  double min_trust, max_trust;             // FusedLamb's min_coeff / max_coeff
  std::int64_t step;                       // this tensor's step count including this update (from 1)
};

// Updates n weights w (W = float or double, the master or the parameter itself) and moments m, v in place
// from gradient g (any float type, widened to W). Returns the trust ratio used. Element math is in W as in
// the CUDA kernel; the two norms are summed in double in fixed blocks (thread-count independent).
template <class W, class G>
double lamb_update(std::int64_t n, W* w, const G* g, W* m, W* v, const LambArgs& a) {
  const W b1 = W(a.beta1), b2 = W(a.beta2), c1 = W(1) - b1, c2 = W(1) - b2, eps = W(a.eps), wd = W(a.weight_decay);
  double sums[2];  // ||w||², ||u||²
  cpu::column_reduce(n, 2, sums, [&](std::int64_t i, double* acc) {
    const W gi = convert<W>(g[i]);
    m[i] = b1 * m[i] + c1 * gi;
    v[i] = b2 * v[i] + c2 * gi * gi;
    const W u = m[i] / (std::sqrt(v[i]) + eps) + wd * w[i];
    acc[0] += double(w[i]) * double(w[i]);
    acc[1] += double(u) * double(u);
  }, 4096);
  const double wn = std::sqrt(sums[0]), un = std::sqrt(sums[1]);
  const double ratio = (wn != 0 && un != 0) ? std::clamp(wn / un, a.min_trust, a.max_trust) : 1.0;
  const double t = double(a.step);
  const W step = W(a.lr * std::sqrt(1 - std::pow(a.beta2, t)) / (1 - std::pow(a.beta1, t)) * ratio);
  cpu::parallel_for(n, [&](std::int64_t i) { w[i] -= step * (m[i] / (std::sqrt(v[i]) + eps) + wd * w[i]); }, 4096);
  return ratio;
}

}  // namespace evaclip::train
