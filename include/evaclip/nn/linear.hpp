// linear.hpp — defines nn::Linear (y = x W^T + b, torch layout) and nn::LayerNorm modules.
#pragma once

#include <string>

#include "evaclip/nn/params.hpp"
#include "evaclip/ops/add_layernorm.hpp"
#include "evaclip/ops/layernorm.hpp"
#include "evaclip/ops/linear.hpp"

namespace evaclip::nn {

struct Linear {
  Var weight;  // (out, in)
  Var bias;    // (out,) or undefined
  Linear() = default;
  Linear(ParamInit& init, std::int64_t in, std::int64_t out, bool has_bias, double std = 0.02)
      : weight(init.trunc_normal({out, in}, std)), bias(has_bias ? init.constant({out}, 0.0) : Var()) {}

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const {  // (..., in) -> (..., out)
    return linear(t, x, weight, bias);
  }
  void params(const std::string& prefix, ParamList& out) const {
    out.push_back({prefix + "weight", weight});
    if (bias.defined()) out.push_back({prefix + "bias", bias});
  }
};

struct LayerNorm {
  Var weight, bias;  // (D,)
  double eps = 1e-5;
  LayerNorm() = default;
  LayerNorm(ParamInit& init, std::int64_t d, double eps) : weight(init.constant({d}, 1.0)), bias(init.constant({d}, 0.0)), eps(eps) {}

  template <class P, class B>
  Var operator()(Tape<P, B>& t, const Var& x) const {
    return layernorm(t, x, weight, bias, eps);
  }
  // The residual add x + r and this norm of the sum in one op (pre-norm blocks): {x + r, LN(x + r)}.
  template <class P, class B>
  AddNorm add_and_norm(Tape<P, B>& t, const Var& x, const Var& r) const {
    return add_layernorm(t, x, r, weight, bias, eps);
  }
  void params(const std::string& prefix, ParamList& out) const {
    out.push_back({prefix + "weight", weight});
    out.push_back({prefix + "bias", bias});
  }
};

}  // namespace evaclip::nn
