// params.hpp — defines ParamInit (creates seeded parameters in the policy's dtype, or shape-only ones),
// ParamList (named parameters, named by their keys in the official checkpoints) and gemm_flops (a weight
// matrix's forward FLOPs).
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "evaclip/autograd/var.hpp"

namespace evaclip::nn {

struct NamedParam {
  std::string name;  // official checkpoint key, e.g. "visual.blocks.0.attn.q_proj.weight"
  Var var;
};
using ParamList = std::vector<NamedParam>;

// Forward FLOPs of x W^T over `rows` rows of x for a (out, in) weight (multiply-add = 2): what the
// modules' flops(tokens) members add up.
inline double gemm_flops(const Var& weight, double rows) { return 2 * rows * double(numel(weight.shape())); }

// Creates parameters: values in `dtype` (the policy's param type), gradients in `grad_dtype` (its master
// type, so 16-bit parameters accumulate fp32 gradients), from one seeded stream.
class ParamInit {
 public:
  ParamInit(DType dtype, DType grad_dtype, std::uint64_t seed) : dtype_(dtype), grad_dtype_(grad_dtype), rng_(seed) {}
  template <class Policy>
  static ParamInit for_policy(std::uint64_t seed) {
    return ParamInit(Policy::param_dtype, Policy::master_dtype, seed);
  }
  // Shape-only parameters: each Var has its shape and dtype but no memory behind it (never read its
  // values). A model built from it costs no memory, so model_stats.hpp counts parameters and FLOPs of
  // the released sizes from the modules themselves.
  static ParamInit meta() {
    ParamInit init(DType::f32, DType::f32, 0);
    init.meta_ = true;
    return init;
  }

  Var constant(Shape s, double value) {
    if (meta_) return make_meta(std::move(s));
    return make(Tensor::full(std::move(s), DType::f64, value));
  }
  // Normal(0, std) truncated to [-2, 2] in absolute value, as timm's trunc_normal_ (its default bounds are
  // absolute, so for the small stds used here it is effectively untruncated).
  Var trunc_normal(Shape s, double std) {
    if (meta_) return make_meta(std::move(s));
    std::vector<double> v(std::size_t(numel(s)));
    for (auto& x : v) {
      do x = rng_.normal(); while (std::abs(x * std) > 2.0);
      x *= std;
    }
    return make(Tensor::from(std::move(s), DType::f64, v));
  }
  Var normal(Shape s, double std) {
    if (meta_) return make_meta(std::move(s));
    return make(Tensor::randn(std::move(s), DType::f64, rng_, std));
  }
  DType dtype() const { return dtype_; }

 private:
  Var make(const Tensor& t) { return Var::parameter(t.to(dtype_), grad_dtype_); }
  // A tensor over no memory: external storage at address 0 whose owner is an empty token.
  Var make_meta(Shape s) const {
    static const auto token = std::make_shared<const int>(0);
    return Var::parameter(Tensor::from_external(nullptr, std::move(s), dtype_, token), grad_dtype_);
  }
  DType dtype_, grad_dtype_;
  Rng rng_;
  bool meta_ = false;
};

}  // namespace evaclip::nn
