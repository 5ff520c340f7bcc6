// cross_entropy.hpp — defines cross_entropy(tape, logits, labels): mean softmax cross-entropy, with backward.
//
// As torch.nn.functional.cross_entropy(logits, labels) with reduction="mean". The result is a rank-0 Var
// (shape (), one element) in the activation type, so losses can be added and scaled by the other ops.
// The backward keeps labels by handle (no copy): they must not be overwritten before backward runs.
#pragma once

#include "evaclip/ops/cpu/cross_entropy.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// logits: (N, C); labels: i64 (N,), each in [0, C), on the tape's device. Returns a () loss.
template <class P, class B>
Var cross_entropy(Tape<P, B>& tape, const Var& logits, const Tensor& labels) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "cross_entropy", "logits", logits);
  EVACLIP_CHECK(logits.shape().size() == 2 && logits.shape()[0] > 0 && logits.shape()[1] > 0,
                "cross_entropy: logits has shape ", to_string(logits.shape()), ", expected (N, C) with N, C > 0");
  const std::int64_t N = logits.shape()[0], C = logits.shape()[1];
  EVACLIP_CHECK(labels.defined() && labels.dtype() == DType::i64, "cross_entropy: labels must be an i64 tensor");
  EVACLIP_CHECK(labels.shape() == Shape{N}, "cross_entropy: labels has shape ", to_string(labels.shape()),
                ", expected (", N, ",) to match logits ", to_string(logits.shape()));
  EVACLIP_CHECK(labels.device() == B::device && labels.is_contiguous(), "cross_entropy: labels must be contiguous on ",
                device_name(B::device));
  const Tensor host_labels = labels.to(Device::cpu);
  const std::int64_t* lp = host_labels.data<std::int64_t>();
  for (std::int64_t r = 0; r < N; ++r)
    EVACLIP_CHECK(0 <= lp[r] && lp[r] < C, "cross_entropy: labels[", r, "] = ", lp[r], " is out of range [0, ", C, ")");

  Tensor loss = new_act(tape, {}), lse = new_compute(tape, {N});
  cross_entropy_forward<Acc>(tape.backend, loss.data<T>(), lse.data<Acc>(), logits.value().data<T>(),
                             labels.data<std::int64_t>(), N, C);
  return differentiable(tape, loss, {logits}, [=](const auto& be, auto& g, const T* dy) {
    cross_entropy_backward<Acc>(be, g[0], dy, logits.value().data<T>(), labels.data<std::int64_t>(), lse.data<Acc>(), N,
                                C);
  });
}

}  // namespace evaclip
