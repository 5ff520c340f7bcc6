// tape.hpp — defines the reverse-mode tape: TapeBase (the Wengert list), Tape<Policy, Backend>, NoGrad.
//
// Each recorded op appends one closure that reads its output's gradient and accumulates into its
// inputs' gradients; it captures (and so keeps alive) exactly what its backward needs. Because ops are
// appended in execution order, running the list backwards visits every Var after all of its consumers,
// so no topological sort is needed and the graph is acyclic by construction.
//
// Semantics (tested in tests/unit/autograd):
// - backward(root) seeds d(root) = seed, runs every closure once in reverse, and destroys each closure
//   right after it runs: saved activations are freed during backward, and the tape is empty afterwards.
//   A second backward needs a new forward pass.
// - Gradients accumulate into Vars (see var.hpp); call zero_grad() on parameters between steps.
// - clear() drops the recorded graph without computing anything (e.g. after an evaluation forward).
// - Inside a NoGrad scope ops record nothing and their results do not require grad (inference).
// - checkpoint.hpp records a segment as one closure that recomputes it during backward.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "evaclip/autograd/var.hpp"
#include "evaclip/core/backend.hpp"
#include "evaclip/precision/policy.hpp"

namespace evaclip {

class TapeBase {
 public:
  TapeBase() = default;
  TapeBase(const TapeBase&) = delete;
  TapeBase& operator=(const TapeBase&) = delete;

  bool recording() const { return recording_; }
  std::size_t size() const { return nodes_.size(); }

  // True when an op with these inputs must record its backward.
  template <class... V>
  bool needs_grad(const V&... inputs) const {
    return recording_ && ((inputs.defined() && inputs.requires_grad()) || ...);
  }

  void record(std::function<void()> backward_fn) { nodes_.push_back(std::move(backward_fn)); }

  void backward(const Var& root, double seed = 1.0) {
    backward(root, Tensor::full(root.shape(), root.grad_dtype(), seed));
  }
  void backward(const Var& root, Tensor seed_grad) {
    EVACLIP_CHECK(root.requires_grad(), "backward: the root ", to_string(root.shape()),
                  " does not require grad (built under NoGrad, or from constants only)");
    EVACLIP_CHECK(!nodes_.empty() || root.is_leaf(),
                  "backward: the tape is empty (backward already ran, or nothing was recorded)");
    root.accumulate_grad(std::move(seed_grad));
    for (std::size_t i = nodes_.size(); i-- > 0;) {
      auto fn = std::move(nodes_[i]);
      nodes_.pop_back();
      fn();  // fn and what it saved are destroyed at the end of this iteration
    }
  }

  void clear() { nodes_.clear(); }

 private:
  friend class NoGrad;
  std::vector<std::function<void()>> nodes_;
  bool recording_ = true;
};

// The execution context of every op: the tape plus the compile-time precision policy and backend.
// Ops deduce both from it: `layernorm(tape, x, w, b, 1e-6)`.
template <precision_policy P, class B = Cpu>
class Tape : public TapeBase {
 public:
  using policy = P;
  using backend_type = B;
  explicit Tape(B backend = {}) : backend(backend) {}
  B backend;
};

// RAII scope in which the tape records nothing (inference, evaluation, recomputation bookkeeping).
class NoGrad {
 public:
  explicit NoGrad(TapeBase& t) : tape_(t), prev_(t.recording_) { t.recording_ = false; }
  ~NoGrad() { tape_.recording_ = prev_; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  TapeBase& tape_;
  bool prev_;
};

// Output of an op: requires grad exactly when the op is recorded.
template <class... V>
Var make_result(const TapeBase& tape, Tensor value, const V&... inputs) {
  return Var::result(std::move(value), tape.needs_grad(inputs...));
}

}  // namespace evaclip
