// grad_clip.hpp — defines clip_grad_norm(): the global L2 gradient norm over all parameter groups and the
// clipping EVA-CLIP's DeepSpeed config applies (gradient_clipping 5.0, docs/model-spec.md §5).
#pragma once

#include <cmath>
#include <type_traits>
#include <vector>

#include "evaclip/ops/cpu/parallel.hpp"
#include "evaclip/train/param_groups.hpp"

namespace evaclip::train {

// Sum of squares of a host tensor's elements in double, in fixed blocks: the same bits for any thread count.
inline double sum_of_squares(const Tensor& t) {
  EVACLIP_CHECK(t.device() == Device::cpu && t.is_contiguous(), "sum_of_squares: needs a contiguous host tensor, got ",
                to_string(t.shape()));
  double sum = 0;
  visit_dtype(t.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* p = t.data<T>();
    cpu::column_reduce(t.numel(), 1, &sum, [&](std::int64_t i, double* acc) {
      const double v = convert<double>(p[i]);
      acc[0] += v * v;
    }, 4096);
  });
  return sum;
}

// Returns the L2 norm of every gradient in `groups` taken together (parameters without a gradient count as
// zero), summed in group and parameter order. When max_norm > 0 and the norm is finite, gradients are then
// scaled in place (in their own dtype) as DeepSpeed's ZeRO optimiser does: by 1/c with
// c = (norm + 1e-6) / max_norm, only when c > 1. A non-finite norm is returned without touching anything, so
// the caller can skip the step.
inline double clip_grad_norm(const std::vector<ParamGroup>& groups, double max_norm) {
  double total = 0;
  for (const ParamGroup& g : groups)
    for (const nn::NamedParam& p : g.params)
      if (p.var.has_grad()) total += sum_of_squares(p.var.grad());
  const double norm = std::sqrt(total);
  const double c = (norm + 1e-6) / max_norm;
  if (max_norm <= 0 || !std::isfinite(norm) || c <= 1) return norm;
  for (const ParamGroup& g : groups) {
    for (const nn::NamedParam& p : g.params) {
      if (!p.var.has_grad()) continue;
      const Tensor& grad = p.var.grad();
      visit_dtype(grad.dtype(), [&](auto z) {
        using T = decltype(z);
        using C = std::conditional_t<std::is_same_v<T, double>, double, float>;
        T* d = grad.data<T>();
        const C f = C(1.0 / c);
        cpu::parallel_for(grad.numel(), [&](std::int64_t i) { d[i] = convert<T>(convert<C>(d[i]) * f); }, 65536);
      });
    }
  }
  return norm;
}

}  // namespace evaclip::train
