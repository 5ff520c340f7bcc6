// exp_clamp.cuh (cuda) — defines exp_clamp_forward (y = exp(clamp(x, lo, hi))); the backward is not built yet.
//
// One thread per 16-byte vector through ew::launch_map (see elementwise.cuh). The clamp is written as
// std::clamp is (a NaN passes through, as on the CPU), and expf is the accurate exponential (2 ulp), not
// the fast __expf, so results stay within rounding of the CPU reference.
#pragma once

#include <cstdint>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"

namespace evaclip::cuda {

namespace ew {
struct ExpClampOp {
  float lo, hi;
  __device__ __forceinline__ float operator()(float x) const {
    const float v = x < lo ? lo : (hi < x ? hi : x);
    return expf(v);
  }
};
}  // namespace ew

// y = exp(clamp(x, lo, hi)) over n elements (lo, hi rounded to float, as the CPU reference).
template <class Acc, class T>
void exp_clamp_forward(Backend be, T* y, const T* x, std::int64_t n, double lo, double hi) {
  if constexpr (!ew::kSupported<Acc, T>) ew::unsupported("exp_clamp_forward");
  else ew::launch_map(be, "exp_clamp_forward", y, x, n, ew::ExpClampOp{float(lo), float(hi)});
}

template <class Acc, class T>
void exp_clamp_backward(Backend, T*, const T*, const T*, std::int64_t, double, double) {
  backward_not_built("exp_clamp_backward");
}

}  // namespace evaclip::cuda
