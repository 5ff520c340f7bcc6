// params.hpp — defines ParamInit (creates seeded parameters in the policy's dtype) and ParamList (named
// parameters, named by their keys in the official checkpoints).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "evaclip/autograd/var.hpp"

namespace evaclip::nn {

struct NamedParam {
  std::string name;  // official checkpoint key, e.g. "visual.blocks.0.attn.q_proj.weight"
  Var var;
};
using ParamList = std::vector<NamedParam>;

// Creates parameters: values in `dtype` (the policy's param type), gradients in `grad_dtype` (its master
// type, so 16-bit parameters accumulate fp32 gradients), from one seeded stream.
class ParamInit {
 public:
  ParamInit(DType dtype, DType grad_dtype, std::uint64_t seed) : dtype_(dtype), grad_dtype_(grad_dtype), rng_(seed) {}
  template <class Policy>
  static ParamInit for_policy(std::uint64_t seed) {
    return ParamInit(Policy::param_dtype, Policy::master_dtype, seed);
  }

  Var constant(Shape s, double value) { return make(Tensor::full(std::move(s), DType::f64, value)); }
  // Normal(0, std) truncated to [-2, 2] in absolute value, as timm's trunc_normal_ (its default bounds are
  // absolute, so for the small stds used here it is effectively untruncated).
  Var trunc_normal(Shape s, double std) {
    std::vector<double> v(std::size_t(numel(s)));
    for (auto& x : v) {
      do x = rng_.normal(); while (std::abs(x * std) > 2.0);
      x *= std;
    }
    return make(Tensor::from(std::move(s), DType::f64, v));
  }
  Var normal(Shape s, double std) { return make(Tensor::randn(std::move(s), DType::f64, rng_, std)); }
  DType dtype() const { return dtype_; }

 private:
  Var make(const Tensor& t) { return Var::parameter(t.to(dtype_), grad_dtype_); }
  DType dtype_, grad_dtype_;
  Rng rng_;
};

}  // namespace evaclip::nn
