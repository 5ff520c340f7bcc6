// unscale.hpp — defines unscale_grads(): divide gradients by the loss scale and report inf/NaN.
//
// The step after a scaled backward: every gradient is multiplied by 1/scale in place (in its own dtype),
// and the return value says whether any gradient held a non-finite value, which is what the loss-scale
// strategy's update(found_inf) needs to decide whether the optimiser step runs.
#pragma once

#include <cmath>
#include <span>

#include "evaclip/autograd/var.hpp"

namespace evaclip {

inline bool unscale_grads(std::span<const Var> params, double scale) {
  EVACLIP_CHECK(scale > 0 && std::isfinite(scale), "unscale_grads: loss scale ", scale, " must be positive and finite");
  bool found_inf = false;
  for (const Var& p : params) {
    if (!p.has_grad()) continue;
    Tensor g = p.grad();
    EVACLIP_CHECK(g.device() == Device::cpu, "unscale_grads: gradient ", to_string(g.shape()),
                  " is on the GPU; the CUDA backend brings its own unscale kernel");
    visit_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
      T* d = g.data<T>();
      const C inv = C(1.0 / scale);
      bool local_inf = false;
      const std::int64_t n = g.numel();
#pragma omp parallel for reduction(|| : local_inf) if (n > 65536)
      for (std::int64_t i = 0; i < n; ++i) {
        const C v = convert<C>(d[i]);
        local_inf = local_inf || !std::isfinite(v);
        d[i] = convert<T>(v * inv);
      }
      found_inf = found_inf || local_inf;
    });
  }
  return found_inf;
}

}  // namespace evaclip
