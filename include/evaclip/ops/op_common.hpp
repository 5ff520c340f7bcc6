// op_common.hpp — defines what every tape op shares: argument checks that name the op, and allocation.
#pragma once

#include "evaclip/autograd/tape.hpp"

namespace evaclip {

// Throws "<op>: <arg> expected <dtype> ..." unless v holds the policy's activation type on B's device.
template <class P, class B>
void check_arg(const Tape<P, B>&, const char* op, const char* arg, const Var& v) {
  EVACLIP_CHECK(v.defined(), op, ": argument ", arg, " is undefined");
  EVACLIP_CHECK(v.dtype() == P::act_dtype, op, ": ", arg, " ", to_string(v.shape()), " is ", dtype_name(v.dtype()),
                " but the ", P::name, " policy computes in ", dtype_name(P::act_dtype));
  EVACLIP_CHECK(v.value().device() == B::device, op, ": ", arg, " ", to_string(v.shape()), " is on ",
                device_name(v.value().device()), " but the tape runs on ", device_name(B::device));
  EVACLIP_CHECK(v.value().is_contiguous(), op, ": ", arg, " ", to_string(v.shape()), " must be contiguous");
}

// Throws "<op>: <arg> has shape (..), expected (..)" unless the shapes are equal.
inline void check_shape(const char* op, const char* arg, const Var& v, const Shape& want) {
  EVACLIP_CHECK(v.shape() == want, op, ": ", arg, " has shape ", to_string(v.shape()), ", expected ", to_string(want));
}

// Uninitialised tensor on the tape's device, in the policy's activation or compute type.
template <class P, class B>
Tensor new_act(const Tape<P, B>&, Shape s) {
  return Tensor::empty(std::move(s), P::act_dtype, B::device);
}
template <class P, class B>
Tensor new_compute(const Tape<P, B>&, Shape s) {
  return Tensor::empty(std::move(s), P::compute_dtype, B::device);
}

// Backward helpers. A gradient buffer exists only for an input that wants one (undefined otherwise);
// kernels get null for the gradients nobody wants, and only computed gradients are accumulated.
template <class P, class B>
Tensor grad_buffer(const Var& input) {
  return input.defined() && input.requires_grad() ? Tensor::empty(input.shape(), P::act_dtype, B::device) : Tensor();
}
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
inline void accumulate_if(const Var& input, Tensor grad) {
  if (grad.defined()) input.accumulate_grad(std::move(grad));
}

}  // namespace evaclip
