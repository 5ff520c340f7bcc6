// layout.hpp — defines the layout ops reshape, permute, concat, slice and expand_batch, with backward.
//
// Every op but reshape returns a new contiguous tensor, because kernels take contiguous inputs. The
// gradient of each is the inverse movement: reshape back, permute by the inverse order, cut the output
// gradient into pieces, scatter into zeros, sum over the broadcast batch.
#pragma once

#include <string>
#include <vector>

#include "evaclip/ops/cpu/layout.hpp"
#include "evaclip/ops/op_common.hpp"

namespace evaclip {

// x: any contiguous shape; `shape` has the same numel (one -1 is inferred). A view of x's storage.
template <class P, class B>
Var reshape(Tape<P, B>& tape, const Var& x, Shape shape) {
  check_arg(tape, "reshape", "x", x);
  Var out = make_result(tape, x.value().reshape(std::move(shape)), x);
  if (!out.requires_grad()) return out;
  tape.record([=] {
    if (!out.has_grad()) return;
    // accumulate_grad copies a gradient that shares storage, so this view never aliases two Vars' grads.
    x.accumulate_grad(out.grad().reshape(x.shape()));
  });
  return out;
}

// Output dimension i is x's dimension order[i] (torch.permute), returned contiguous.
template <class P, class B>
Var permute(Tape<P, B>& tape, const Var& x, const std::vector<std::int64_t>& order) {
  using T = typename P::act_t;
  check_arg(tape, "permute", "x", x);
  const Tensor src = x.value().permute(order);  // validates order; the strides read x in output order
  Tensor y = new_act(tape, src.shape());
  strided_copy(tape.backend, y.data<T>(), y.strides(), src.data<T>(), src.strides(), src.shape());
  return differentiable(tape, y, {x}, [=, ys = y.shape(), yst = y.strides()](const auto& be, auto& g, const T* dy) {
    const Tensor dst =
        g.buffer(0).permute(order);  // dx seen in output order: writing dy through it inverts the permute
    strided_copy(be, dst.data<T>(), dst.strides(), dy, yst, ys);
  });
}

// xs: tensors of one rank whose shapes agree except in `dim`; returns them joined along `dim`.
// Prepending the CLS token: concat(tape, {cls (B, 1, D), x (B, N, D)}, 1) -> (B, N + 1, D).
template <class P, class B>
Var concat(Tape<P, B>& tape, const std::vector<Var>& xs, std::int64_t dim) {
  using T = typename P::act_t;
  EVACLIP_CHECK(!xs.empty(), "concat: no inputs");
  for (std::size_t k = 0; k < xs.size(); ++k) check_arg(tape, "concat", ("input " + std::to_string(k)).c_str(), xs[k]);
  const std::size_t d = wrap_dim(dim, xs[0].shape().size(), "concat");
  auto same_except_d = [d](Shape a, Shape b) {
    if (a.size() != b.size()) return false;
    a[d] = b[d];
    return a == b;
  };
  Shape shape = xs[0].shape();
  shape[d] = 0;
  bool needs_grad = false;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    EVACLIP_CHECK(same_except_d(xs[k].shape(), xs[0].shape()), "concat: input ", k, " has shape ",
                  to_string(xs[k].shape()), " but input 0 has ", to_string(xs[0].shape()),
                  "; they may differ only in dimension ", dim);
    shape[d] += xs[k].shape()[d];
    needs_grad = needs_grad || tape.needs_grad(xs[k]);
  }
  Tensor y = new_act(tape, shape);
  std::int64_t begin = 0;
  for (const Var& x : xs) {  // each input lands in its own range of dimension d
    const std::int64_t len = x.shape()[d];
    const Tensor dst = y.slice(std::int64_t(d), begin, begin + len);
    strided_copy(tape.backend, dst.data<T>(), dst.strides(), x.value().data<T>(), x.value().strides(), x.shape());
    begin += len;
  }
  Var out = Var::result(y, needs_grad);
  if (!needs_grad) return out;
  tape.record([=, backend = tape.backend] {
    if (!out.has_grad()) return;
    const Tensor dy = out.grad().to(P::act_dtype);
    std::int64_t b = 0;
    for (const Var& x : xs) {
      const std::int64_t len = x.shape()[d];
      if (x.requires_grad()) {
        const Tensor src = dy.slice(std::int64_t(d), b, b + len);
        Tensor dx = Tensor::empty(x.shape(), P::act_dtype, B::device);
        strided_copy(backend, dx.data<T>(), dx.strides(), src.data<T>(), src.strides(), src.shape());
        x.accumulate_grad(std::move(dx));
      }
      b += len;
    }
  });
  return out;
}

// x[..., begin:end, ...] along `dim`, as a contiguous copy; the gradient is dy placed into zeros.
template <class P, class B>
Var slice(Tape<P, B>& tape, const Var& x, std::int64_t dim, std::int64_t begin, std::int64_t end) {
  using T = typename P::act_t;
  check_arg(tape, "slice", "x", x);
  const Tensor src = x.value().slice(dim, begin, end);  // validates the range
  Tensor y = new_act(tape, src.shape());
  strided_copy(tape.backend, y.data<T>(), y.strides(), src.data<T>(), src.strides(), src.shape());
  return differentiable(tape, y, {x}, [=, ys = y.shape(), yst = y.strides()](const auto& be, auto& g, const T* dy) {
    Tensor dx = g.buffer(0);
    dx.fill_(0.0);
    const Tensor dst = dx.slice(dim, begin, end);
    strided_copy(be, dst.data<T>(), dst.strides(), dy, yst, ys);
  });
}

// x: (1, ...) (a parameter such as the CLS token (1, 1, D)) -> (batch, ...); the gradient sums over the batch.
template <class P, class B>
Var expand_batch(Tape<P, B>& tape, const Var& x, std::int64_t batch) {
  using T = typename P::act_t;
  using Acc = typename P::compute_t;
  check_arg(tape, "expand_batch", "x", x);
  EVACLIP_CHECK(!x.shape().empty() && x.shape()[0] == 1, "expand_batch: x has shape ", to_string(x.shape()),
                ", expected a leading dimension of 1");
  EVACLIP_CHECK(batch >= 1, "expand_batch: batch ", batch, " must be at least 1");
  const std::int64_t inner = x.value().numel();
  Shape shape = x.shape();
  shape[0] = batch;
  Tensor y = new_act(tape, shape);
  // Source stride 0 over the batch reads the same row for every b.
  strided_copy(tape.backend, y.data<T>(), {inner, 1}, x.value().data<T>(), {0, 1}, {batch, inner});
  return differentiable(tape, y, {x},
                        [=](const auto& be, auto& g, const T* dy) { batch_sum<Acc>(be, g[0], dy, batch, inner); });
}

}  // namespace evaclip
