// rope.hpp — defines rope2d(tape, x, cos, sin, prefix): EVA-02's 2D rotary embedding on q or k, with backward.
//
// The cos/sin tables (built in fp32 as the official code builds them, docs/model-spec.md §2c, so stored in the
// compute type) are constants, not Vars.
// Patch dropout gathers their rows per sample, hence the optional leading batch dimension.
#pragma once

#include <utility>

#include "evaclip/ops/cpu/rope.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: (B, H, T, hd), hd even; cos, sin: (T - prefix, hd) shared by the batch, or (B, T - prefix, hd) per
// sample. The first `prefix` tokens (CLS) pass through unrotated. Returns (B, H, T, hd).
template <class P, class B>
Var rope2d(Tape<P, B>& tape, const Var& x, const Tensor& cos, const Tensor& sin, std::int64_t prefix) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "rope2d", "x", x);
  EVACLIP_CHECK(x.shape().size() == 4, "rope2d: x has shape ", to_string(x.shape()), ", expected (B, H, T, hd)");
  const std::int64_t batch = x.shape()[0], H = x.shape()[1], L = x.shape()[2], hd = x.shape()[3];
  EVACLIP_CHECK(hd % 2 == 0, "rope2d: head dim ", hd, " of x ", to_string(x.shape()), " must be even");
  EVACLIP_CHECK(0 <= prefix && prefix <= L, "rope2d: prefix ", prefix, " out of range for x ", to_string(x.shape()));
  const bool per_sample = cos.defined() && cos.shape().size() == 3;
  const Shape want = per_sample ? Shape{batch, L - prefix, hd} : Shape{L - prefix, hd};
  for (const auto& [name, table] : {std::pair{"cos", &cos}, std::pair{"sin", &sin}}) {
    EVACLIP_CHECK(table->defined(), "rope2d: ", name, " is undefined");
    EVACLIP_CHECK(table->shape() == want, "rope2d: ", name, " has shape ", to_string(table->shape()), ", expected ",
                  to_string(want), " for x ", to_string(x.shape()), " with prefix ", prefix);
    EVACLIP_CHECK(table->dtype() == P::compute_dtype, "rope2d: ", name, " ", to_string(table->shape()), " is ",
                  dtype_name(table->dtype()), " but the ", P::name, " policy computes in ",
                  dtype_name(P::compute_dtype));
    EVACLIP_CHECK(table->device() == B::device && table->is_contiguous(), "rope2d: ", name, " ",
                  to_string(table->shape()), " must be contiguous and on ", device_name(B::device));
  }
  Tensor y = new_act(tape, x.shape());
  rope2d_forward<Acc>(tape.backend, y.data<T>(), x.value().data<T>(), cos.data<Acc>(), sin.data<Acc>(), batch, H, L, hd,
                      prefix, per_sample);
  return differentiable(tape, y, {x}, [=](const auto& be, auto& g, const T* dy) {
    rope2d_backward<Acc>(be, g[0], dy, cos.data<Acc>(), sin.data<Acc>(), batch, H, L, hd, prefix, per_sample);
  });
}

}  // namespace evaclip
