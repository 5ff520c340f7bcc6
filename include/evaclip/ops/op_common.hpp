// op_common.hpp — defines what every tape op shares: argument checks that name the op, allocation, and
// the backward shell (Grads, differentiable) that turns a backward kernel into a recorded tape node.
//
// A tape op reads as checks, forward kernel, backward kernel:
//   Tensor y = new_act(tape, x.shape());
//   layernorm_forward<Acc>(tape.backend, y.data<T>(), ...);
//   return differentiable(tape, y, {x, w, b}, [=](const auto& be, auto& g, const T* dy) {
//     layernorm_backward<Acc>(be, g[0], g[1], g[2], dy, ...);  // g[i]: input i's gradient, or null
//   });
// Backward kernels OVERWRITE the buffers they are given and skip the null ones; Grads then ACCUMULATES each
// computed buffer into its input (Var::accumulate_grad adds, see var.hpp). That rule lives only here.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

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

template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
// An optional input's data (a bias given as an undefined Var), or null.
template <class T>
const T* data_or_null(const Var& v) {
  return v.defined() ? v.value().data<T>() : nullptr;
}
// The gradient buffers of one backward call, one per input in the op's order: g[i] is the activation-type
// buffer for input i, or null when input i wants no gradient (undefined, or not requiring grad).
template <class P, class B, std::size_t N>
class Grads {
 public:
  using T = typename P::act_t;
  explicit Grads(const std::array<Var, N>& inputs) : inputs_(inputs) {
    for (std::size_t i = 0; i < N; ++i)
      if (inputs_[i].defined() && inputs_[i].requires_grad())
        buffers_[i] = Tensor::empty(inputs_[i].shape(), P::act_dtype, B::device);
  }
  T* operator[](std::size_t i) const { return data_or_null<T>(buffers_[i]); }
  // Input i's buffer as a tensor (undefined when it wants no gradient), for kernels that write through a view.
  const Tensor& buffer(std::size_t i) const { return buffers_[i]; }
  // Input i gets no gradient from this call after all (its output got none): its buffer is released unused.
  void drop(std::size_t i) { buffers_[i] = Tensor(); }
  // grad += buffer for every input that has one.
  void accumulate() {
    for (std::size_t i = 0; i < N; ++i)
      if (buffers_[i].defined()) inputs_[i].accumulate_grad(std::move(buffers_[i]));
  }

 private:
  std::array<Var, N> inputs_;
  std::array<Tensor, N> buffers_;
};

// The result Var of a one-output op with value y and these inputs; when any input requires grad, also
// records bwd(backend, grads, dy), run once the result has a gradient dy (in the activation type), after
// which the gradients are accumulated into the inputs. bwd captures what it reads by value (the closure
// keeps the saved tensors alive until it has run).
template <class P, class B, std::size_t N, class Bwd>
Var differentiable(Tape<P, B>& tape, Tensor y, const Var (&inputs)[N], Bwd bwd) {
  std::array<Var, N> in;
  bool needs_grad = false;
  for (std::size_t i = 0; i < N; ++i) {
    in[i] = inputs[i];
    needs_grad = needs_grad || tape.needs_grad(in[i]);
  }
  Var out = Var::result(std::move(y), needs_grad);
  if (!needs_grad) return out;
  tape.record([out, in, bwd = std::move(bwd), backend = tape.backend] {
    if (!out.has_grad()) return;
    Grads<P, B, N> g(in);
    const Tensor dy = out.grad().to(P::act_dtype);
    bwd(backend, g, dy.template data<typename P::act_t>());
    g.accumulate();
  });
  return out;
}

}  // namespace evaclip
