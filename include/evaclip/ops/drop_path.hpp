// drop_path.hpp — defines drop path (stochastic depth) on a residual branch: drop_path_scales(), the
// per-sample random factors, and drop_path(tape, x, scales), which applies them with backward.
//
// As timm's DropPath (scale_by_keep): with keep probability q = 1 - rate, each sample's whole branch is
// kept and divided by q, or zeroed. The factors are drawn apart from the op so that a checkpointed block
// can be re-run in backward with the factors of its forward.
#pragma once

#include <vector>

#include "evaclip/core/random.hpp"
#include "evaclip/ops/cpu/drop_path.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// (B,) factors for one branch: per sample, one uniform u; 1 / (1 - rate) if u < 1 - rate, else 0.
inline Tensor drop_path_scales(Rng& rng, std::int64_t batch, double rate, DType dtype = DType::f64,
                               Device device = Device::cpu) {
  EVACLIP_CHECK(rate >= 0 && rate <= 1, "drop_path_scales: rate ", rate, " is outside [0, 1]");
  EVACLIP_CHECK(batch >= 0, "drop_path_scales: batch ", batch, " is negative");
  const double keep = 1.0 - rate;
  std::vector<double> s(static_cast<std::size_t>(batch));
  for (double& v : s) v = rng.uniform() < keep ? 1.0 / keep : 0.0;
  return Tensor::from({batch}, DType::f64, s).to(dtype).to(device);
}

// x: (B, ...); scales: (B,) in the policy's compute type (from drop_path_scales). Returns x[b] * scales[b].
template <class P, class B>
Var drop_path(Tape<P, B>& tape, const Var& x, const Tensor& scales) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "drop_path", "x", x);
  EVACLIP_CHECK(!x.shape().empty(), "drop_path: x has shape (), expected a leading batch dimension");
  const std::int64_t batch = x.shape()[0];
  EVACLIP_CHECK(scales.defined() && scales.shape() == Shape{batch}, "drop_path: scales has shape ",
                scales.defined() ? to_string(scales.shape()) : std::string("undefined"), ", expected ",
                to_string(Shape{batch}), " for x ", to_string(x.shape()));
  EVACLIP_CHECK(scales.dtype() == P::compute_dtype, "drop_path: scales ", to_string(scales.shape()), " is ",
                dtype_name(scales.dtype()), " but the ", P::name, " policy computes in ", dtype_name(P::compute_dtype));
  EVACLIP_CHECK(scales.device() == B::device && scales.is_contiguous(), "drop_path: scales ", to_string(scales.shape()),
                " must be contiguous and on ", device_name(B::device));
  const std::int64_t n = batch == 0 ? 0 : x.value().numel() / batch;
  Tensor y = new_act(tape, x.shape());
  drop_path_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), scales.data<Acc>(), batch, n);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {
    drop_path_backward<Acc>(be, g[0], dy, scales.data<Acc>(), batch, n);
  });
}

}  // namespace evaclip
