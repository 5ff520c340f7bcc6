// policy.hpp — defines precision policies (fp64, fp32, bf16_mixed, fp16_mixed) and the precision_policy concept.
//
// A policy is a compile-time bundle of element types plus a loss-scaling strategy:
//   param_t   — the parameters the forward pass reads (the working copy)
//   act_t     — activations and their gradients
//   compute_t — what kernels accumulate in (reductions, GEMM accumulators)
//   master_t  — the optimiser's copy of the weights and its state
//   loss_scale_t — NoLossScale, StaticLossScale or DynamicLossScale
// Mixed policies keep fp32 master weights and run the forward in the 16-bit type. On the CPU, 16-bit
// values are stored rounded and computed in float, so mixed-precision logic is testable without a GPU.
// There is no global precision: two policies can live in one program (the tests compare them).
#pragma once

#include <concepts>
#include <type_traits>

#include "evaclip/core/dtype.hpp"
#include "evaclip/precision/loss_scale.hpp"

namespace evaclip {

template <class Param, class Act, class Compute, class Master, class LossScale>
struct Precision {
  using param_t = Param;
  using act_t = Act;
  using compute_t = Compute;
  using master_t = Master;
  using loss_scale_t = LossScale;
  static constexpr DType param_dtype = dtype_of<Param>();
  static constexpr DType act_dtype = dtype_of<Act>();
  static constexpr DType compute_dtype = dtype_of<Compute>();
  static constexpr DType master_dtype = dtype_of<Master>();
  static_assert(std::is_same_v<Compute, float> || std::is_same_v<Compute, double>,
                "compute type must be float or double: kernels accumulate in it");
  static_assert(std::is_same_v<Param, Act>, "kernels read parameters and activations as one type");
};

struct fp64 : Precision<double, double, double, double, NoLossScale> {
  static constexpr const char* name = "fp64";
};
struct fp32 : Precision<float, float, float, float, NoLossScale> {
  static constexpr const char* name = "fp32";
};
struct bf16_mixed : Precision<bf16, bf16, float, float, NoLossScale> {
  static constexpr const char* name = "bf16";
};
struct fp16_mixed : Precision<f16, f16, float, float, DynamicLossScale> {
  static constexpr const char* name = "fp16";
};

template <class P>
concept precision_policy = requires {
  typename P::param_t;
  typename P::act_t;
  typename P::compute_t;
  typename P::master_t;
  typename P::loss_scale_t;
  { P::name } -> std::convertible_to<const char*>;
};

// True when the policy stores something narrower than its master weights (needs a master copy).
template <precision_policy P>
inline constexpr bool is_mixed = !std::is_same_v<typename P::param_t, typename P::master_t>;

}  // namespace evaclip
