// optimizer.hpp — defines Optimizer (per-parameter state, fp32 master weights, checkpointing), its LAMB and
// AdamW implementations and make_optimizer().
//
// - Each parameter with a gradient is updated by its group's rule at lr = base_lr · lr_factor · lr_scale;
//   a parameter without a gradient is skipped and its state (including its step count, which drives bias
//   correction) does not change, as in FusedLamb and torch.optim.AdamW.
// - fp32 / fp64 parameters are updated in place, with state in their own dtype. bf16 / f16 parameters get
//   an fp32 master copy, made from the parameter at its first update: the rule updates the master and the
//   parameter receives the rounded master (Var::assign).
// - State is created lazily at a parameter's first update, like the reference optimisers' state dicts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "evaclip/train/adamw.hpp"
#include "evaclip/train/lamb.hpp"
#include "evaclip/train/param_groups.hpp"

namespace evaclip::train {

struct OptimizerSettings {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // what the official code path gives (docs/model-spec.md §11)
  double min_trust = 0.01, max_trust = 10.0;      // LAMB trust-ratio clamp (FusedLamb min/max_coeff)
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient; group g uses lr = base_lr_g · lr_factor · lr_scale_g.
  virtual void step(double lr_factor) = 0;
  std::int64_t steps() const { return steps_; }  // updates applied so far
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // Clamps one of the optimiser's parameters to [lo, hi] in place, its fp32 master too, so that the clamp
  // survives the next update (logit_scale after every step, docs/model-spec.md §4). The official DeepSpeed fp16
  // runs clamp only the 16-bit module weight: their master keeps the unclamped value, is copied over the weight
  // at the next step and is clamped again after it, so the forward sees the same clamp but the master may drift.
  void clamp(const Var& param, double lo, double hi) {
    EVACLIP_CHECK(lo <= hi, kind_, ": clamp to an empty range [", lo, ", ", hi, "]");
    bool found = false;
    for_each_param([&](const nn::NamedParam& p, const State& st) {
      if (!p.var.value().shares_storage(param.value())) return;
      found = true;
      const Tensor& t = st.master.defined() ? st.master : p.var.value();
      visit_dtype(t.dtype(), [&](auto z) {
        using T = decltype(z);
        T* d = t.data<T>();
        for (std::int64_t i = 0; i < t.numel(); ++i) d[i] = convert<T>(std::clamp(convert<double>(d[i]), lo, hi));
      });
      if (st.master.defined()) p.var.assign(st.master);
    });
    EVACLIP_CHECK(found, kind_, ": clamp of a parameter ", to_string(param.shape()), " that is not in its groups");
  }

  // Appends the state as named tensors: "optim.step" (i64 scalar), and per parameter "optim.step.<name>" (its
  // own update count) and, once it has been updated, "optim.exp_avg.<name>", "optim.exp_avg_sq.<name>" and,
  // for 16-bit parameters, "optim.master.<name>". The tensors share the optimiser's storage: write them
  // out before the next step.
  void save_state(std::vector<std::pair<std::string, Tensor>>& out) const {
    out.emplace_back("optim.step", Tensor::full({}, DType::i64, double(steps_)));
    for_each_param([&](const nn::NamedParam& p, const State& st) {
      out.emplace_back("optim.step." + p.name, Tensor::full({}, DType::i64, double(st.step)));
      if (st.step == 0) return;
      out.emplace_back("optim.exp_avg." + p.name, st.exp_avg);
      out.emplace_back("optim.exp_avg_sq." + p.name, st.exp_avg_sq);
      if (st.master.defined()) out.emplace_back("optim.master." + p.name, st.master);
    });
  }

  // Restores what save_state wrote (copies it), so that training continues bit-identically. Keys other than
  // these are ignored; a missing key, or one with the wrong dtype or shape, is an error naming it, and leaves
  // the optimiser unchanged.
  void load_state(const std::map<std::string, Tensor>& in) {
    auto get = [&](const std::string& key, DType dt, const Shape& shape) {
      const auto it = in.find(key);
      EVACLIP_CHECK(it != in.end(), kind_, " load_state: missing key \"", key, "\"");
      const Tensor& t = it->second;
      EVACLIP_CHECK(t.dtype() == dt && t.shape() == shape, kind_, " load_state: \"", key, "\" is ",
                    dtype_name(t.dtype()), " ", to_string(t.shape()), ", expected ", dtype_name(dt), " ", to_string(shape));
      return t.to(Device::cpu).clone();
    };
    auto count = [&](const std::string& key) {
      const std::int64_t n = get(key, DType::i64, {}).data<std::int64_t>()[0];
      EVACLIP_CHECK(n >= 0, kind_, " load_state: \"", key, "\" holds a negative step count ", n);
      return n;
    };
    const std::int64_t steps = count("optim.step");
    std::vector<std::vector<State>> state(groups_.size());
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      for (const nn::NamedParam& p : groups_[gi].params) {
        State st;
        st.step = count("optim.step." + p.name);
        if (st.step > 0) {
          const DType sd = state_dtype(p);
          st.exp_avg = get("optim.exp_avg." + p.name, sd, p.var.shape());
          st.exp_avg_sq = get("optim.exp_avg_sq." + p.name, sd, p.var.shape());
          if (sd != p.var.dtype()) st.master = get("optim.master." + p.name, sd, p.var.shape());
        }
        state[gi].push_back(std::move(st));
      }
    }
    state_ = std::move(state);
    steps_ = steps;
  }

 protected:
  Optimizer(std::vector<ParamGroup> groups, const OptimizerSettings& s, const char* kind)
      : settings_(s), groups_(std::move(groups)), kind_(kind) {
    EVACLIP_CHECK(s.beta1 >= 0 && s.beta1 < 1 && s.beta2 >= 0 && s.beta2 < 1 && s.eps >= 0, kind_, ": betas (",
                  s.beta1, ", ", s.beta2, ") must be in [0, 1) and eps ", s.eps, " non-negative");
    EVACLIP_CHECK(s.min_trust > 0 && s.min_trust <= s.max_trust, kind_, ": trust clamp [", s.min_trust, ", ",
                  s.max_trust, "] must be positive and ordered");
    std::set<std::string> names;
    for (const ParamGroup& g : groups_) {
      EVACLIP_CHECK(g.base_lr >= 0 && g.lr_scale >= 0 && g.weight_decay >= 0, kind_, ": group \"", g.name,
                    "\" has a negative lr, lr_scale or weight_decay");
      for (const nn::NamedParam& p : g.params) {
        EVACLIP_CHECK(names.insert(p.name).second, kind_, ": parameter \"", p.name, "\" appears twice");
        EVACLIP_CHECK(p.var.value().device() == Device::cpu, kind_, ": parameter \"", p.name,
                      "\" is on the GPU; this optimiser updates host tensors");
        state_dtype(p);  // rejects integer parameters now rather than at the first step
      }
      state_.emplace_back(g.params.size());
    }
  }

  // Calls update(n, w, g, m, v, lr, weight_decay, t) for every parameter with a gradient: w is the fp32
  // master or the parameter itself (float* or double*), g the gradient in its own type, m and v the
  // moments, t the parameter's step count including this update. Then writes masters back.
  template <class F>
  void update_each(double lr_factor, F&& update) {
    EVACLIP_CHECK(std::isfinite(lr_factor) && lr_factor >= 0, kind_, ": lr factor ", lr_factor,
                  " must be finite and non-negative");
    for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
      const ParamGroup& group = groups_[gi];
      const double lr = group.base_lr * lr_factor * group.lr_scale;
      for (std::size_t pi = 0; pi < group.params.size(); ++pi) {
        const nn::NamedParam& p = group.params[pi];
        if (!p.var.has_grad()) continue;
        const Tensor& grad = p.var.grad();
        EVACLIP_CHECK(grad.device() == Device::cpu && grad.is_contiguous() && p.var.value().is_contiguous(), kind_,
                      ": parameter \"", p.name, "\" or its gradient is not a contiguous host tensor");
        State& st = state_[gi][pi];
        const DType sd = state_dtype(p);
        if (st.step == 0) {
          st.exp_avg = Tensor::zeros(p.var.shape(), sd);
          st.exp_avg_sq = Tensor::zeros(p.var.shape(), sd);
          if (sd != p.var.dtype()) st.master = p.var.value().to(sd);
        }
        ++st.step;
        const Tensor& w = st.master.defined() ? st.master : p.var.value();
        auto run = [&]<class W>(W*) {
          visit_dtype(grad.dtype(), [&](auto z) {
            using G = decltype(z);
            if constexpr (std::is_integral_v<G>) {
              fail(kind_, ": gradient of \"", p.name, "\" is ", dtype_name(grad.dtype()));
            } else {
              update(w.numel(), w.data<W>(), grad.data<G>(), st.exp_avg.data<W>(), st.exp_avg_sq.data<W>(), lr,
                     group.weight_decay, st.step);
            }
          });
        };
        sd == DType::f64 ? run(static_cast<double*>(nullptr)) : run(static_cast<float*>(nullptr));
        if (st.master.defined()) p.var.assign(st.master);
      }
    }
    ++steps_;
  }

  OptimizerSettings settings_;

 private:
  struct State {
    Tensor master, exp_avg, exp_avg_sq;  // master: 16-bit parameters only
    std::int64_t step = 0;               // this parameter's updates so far
  };

  // The dtype of the weights the rule updates and of the moments: fp64 and fp32 parameters keep their own,
  // 16-bit ones get fp32 masters.
  DType state_dtype(const nn::NamedParam& p) const {
    const DType d = p.var.dtype();
    EVACLIP_CHECK(is_floating(d), kind_, ": parameter \"", p.name, "\" is ", dtype_name(d), ", not a float type");
    return d == DType::f64 ? DType::f64 : DType::f32;
  }

  template <class F>
  void for_each_param(F&& f) const {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
      for (std::size_t pi = 0; pi < groups_[gi].params.size(); ++pi) f(groups_[gi].params[pi], state_[gi][pi]);
  }

  std::vector<ParamGroup> groups_;
  std::vector<std::vector<State>> state_;  // [group][parameter]
  std::int64_t steps_ = 0;
  const char* kind_;
};

// LAMB as DeepSpeed's FusedLamb (lamb.hpp), bias correction on, eps outside the square root.
class Lamb final : public Optimizer {
 public:
  Lamb(std::vector<ParamGroup> groups, const OptimizerSettings& s) : Optimizer(std::move(groups), s, "lamb") {}
  void step(double lr_factor) override {
    update_each(lr_factor, [&](std::int64_t n, auto* w, const auto* g, auto* m, auto* v, double lr, double wd,
                               std::int64_t t) {
      const OptimizerSettings& s = settings_;
      lamb_update(n, w, g, m, v, LambArgs{lr, wd, s.beta1, s.beta2, s.eps, s.min_trust, s.max_trust, t});
    });
  }
};

// AdamW as torch.optim.AdamW (adamw.hpp).
class AdamW final : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, const OptimizerSettings& s) : Optimizer(std::move(groups), s, "adamw") {}
  void step(double lr_factor) override {
    update_each(lr_factor, [&](std::int64_t n, auto* w, const auto* g, auto* m, auto* v, double lr, double wd,
                               std::int64_t t) {
      const OptimizerSettings& s = settings_;
      adamw_update(n, w, g, m, v, AdamWArgs{lr, wd, s.beta1, s.beta2, s.eps, t});
    });
  }
};

// "lamb" (EVA-CLIP's optimiser) or "adamw".
inline std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups,
                                                 const OptimizerSettings& s = {}) {
  if (name == "lamb") return std::make_unique<Lamb>(std::move(groups), s);
  if (name == "adamw") return std::make_unique<AdamW>(std::move(groups), s);
  fail("make_optimizer: unknown optimizer \"", name, "\" (valid: lamb, adamw)");
}

}  // namespace evaclip::train
