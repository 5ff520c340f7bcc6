// var.hpp — defines Var: a tensor value with an optional gradient, the unit the tape differentiates.
//
// Semantics (tested in tests/unit/autograd):
// - A Var made by the user is a leaf (parameters, inputs); a Var made by an op is a result.
// - Gradients ACCUMULATE: every backward adds into `grad()`; nothing overwrites it. `zero_grad()` sets
//   it to zero (keeping the buffer), `clear_grad()` releases it.
// - A gradient is stored in `grad_dtype()`, the value's dtype unless the leaf was created with another
//   one (mixed precision keeps fp32 gradients for 16-bit parameters so accumulation loses nothing).
// - A Var is a handle: copies share value and gradient.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "evaclip/core/tensor.hpp"

namespace evaclip {

class Var {
 public:
  Var() = default;
  // A leaf. Parameters pass requires_grad = true.
  explicit Var(Tensor value, bool requires_grad = false) : Var(std::move(value), requires_grad, true) {}
  static Var parameter(Tensor value) { return Var(std::move(value), true); }
  static Var parameter(Tensor value, DType grad_dtype) {
    Var v(std::move(value), true);
    v.s_->grad_dtype = grad_dtype;
    return v;
  }
  // The output of an op; requires_grad when any input of a recorded op did.
  static Var result(Tensor value, bool requires_grad) { return Var(std::move(value), requires_grad, false); }

  bool defined() const { return s_ != nullptr; }
  const Tensor& value() const { return state().value; }
  const Shape& shape() const { return state().value.shape(); }
  DType dtype() const { return state().value.dtype(); }
  bool requires_grad() const { return state().requires_grad; }
  bool is_leaf() const { return state().is_leaf; }
  DType grad_dtype() const { return state().grad_dtype; }
  bool has_grad() const { return state().grad.defined(); }
  const Tensor& grad() const {
    EVACLIP_CHECK(has_grad(), "Var::grad: no gradient for ", to_string(shape()), " (backward has not reached it)");
    return state().grad;
  }

  // grad += g (converted to grad_dtype). A uniquely owned g of the right dtype is adopted without a copy.
  void accumulate_grad(Tensor g) const {
    State& s = state();
    check_same_shape("accumulate_grad", s.value, g);
    if (!s.grad.defined()) {
      if (g.dtype() == s.grad_dtype && g.is_contiguous() && g.is_unique()) {
        s.grad = std::move(g);
      } else {
        s.grad = g.to(s.grad_dtype).contiguous();
        if (s.grad.shares_storage(g)) s.grad = s.grad.clone();  // never alias another Var's buffer
      }
      return;
    }
    add_into(s.grad, g);
  }
  void zero_grad() const {
    if (has_grad()) state().grad.fill_(0.0);
  }
  void clear_grad() const { state().grad = Tensor(); }

  // Moves the value to another device (a model's parameters, once, before it runs on that backend); handles
  // sharing this Var see the moved value. Any gradient is dropped: it belonged to the old copy.
  void move_to(Device d) const {
    State& s = state();
    s.value = s.value.to(d);
    s.grad = Tensor();
  }

  // Replaces the value in place of its storage (optimisers, loaders); shape and dtype must match.
  void assign(const Tensor& v) const {
    check_same_shape("Var::assign", state().value, v);
    state().value.copy_(v);
  }

 private:
  struct State {
    Tensor value;
    Tensor grad;
    DType grad_dtype;
    bool requires_grad;
    bool is_leaf;
  };
  Var(Tensor value, bool requires_grad, bool is_leaf)
      : s_(std::make_shared<State>(State{value, Tensor(), value.dtype(), requires_grad, is_leaf})) {}
  State& state() const {
    EVACLIP_CHECK(s_, "Var: use of an undefined Var");
    return *s_;
  }

  // dst += src element-wise, in the precision of the wider of the two.
  static void add_into(Tensor& dst, const Tensor& src) {
    visit_dtype(dst.dtype(), [&](auto zd) {
      visit_dtype(src.dtype(), [&](auto zs) {
        using D = decltype(zd);
        using S = decltype(zs);
        using C = std::conditional_t<std::is_same_v<D, double> || std::is_same_v<S, double>, double, float>;
        const Tensor s = src.contiguous();
        D* d = dst.data<D>();
        const S* p = s.data<S>();
        const std::int64_t n = dst.numel();
#pragma omp parallel for if (n > 65536)
        for (std::int64_t i = 0; i < n; ++i) d[i] = convert<D>(convert<C>(d[i]) + convert<C>(p[i]));
      });
    });
  }

  std::shared_ptr<State> s_;
};

}  // namespace evaclip
