// load_model.hpp — defines what every program that runs a model shares: resolve_model_config (a released
// variant by name, or a config file), with_model_types (the run-time choice of precision policy and
// compiled block family) and load_clip (a Clip of that family with a checkpoint's weights).
//
//   nn::with_model_types(precision, cfg.family, [&]<class P, class Block>(P, Block*) {
//     const auto m = nn::load_clip<P, Block>(cfg, weights);   // m.model, m.params, m.report
//     ...
//   });
#pragma once

#include <string>
#include <type_traits>

#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/clip.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_stats.hpp"
#include "evaclip/precision/policy.hpp"

namespace evaclip::nn {

// Exactly one of a config file (official model_configs schema) and a released variant's name.
inline ModelConfig resolve_model_config(const std::string& config_path, const std::string& variant) {
  EVACLIP_CHECK(config_path.empty() != variant.empty(), "give either --config FILE.json or --model NAME",
                config_path.empty() ? "" : ", not both");
  return config_path.empty() ? find_variant(variant) : read_model_config(config_path);
}

// The precision names programs accept, in the order of with_model_types' dispatch.
inline constexpr const char* kPrecisionNames = "fp64, fp32, bf16, fp16";

namespace detail {
// f(P{}, Block*) for the first policy of Ps named `precision`; false when none is.
template <class... Ps, class F, class R>
bool with_policy_named(const std::string& precision, VisionFamily family, F& f, R& result) {
  auto try_one = [&]<class P>(P) {
    if (precision != P::name) return false;
    result = with_vision_block(family, [&]<class Block>(Block* tag) { return f(P{}, tag); });
    return true;
  };
  return (try_one(Ps{}) || ...);
}
}  // namespace detail

// Calls f(P{}, static_cast<Block*>(nullptr)) with the policy whose name is `precision` (fp64, fp32, bf16 =
// bf16_mixed, fp16 = fp16_mixed) and the compiled block of `family`; f returns a value (not void).
template <class F>
auto with_model_types(const std::string& precision, VisionFamily family, F&& f) {
  std::invoke_result_t<F&, fp32, Eva02Block*> result{};
  if (!detail::with_policy_named<fp64, fp32, bf16_mixed, fp16_mixed>(precision, family, f, result))
    fail("unknown precision \"", precision, "\" (valid: ", kPrecisionNames, ")");
  return result;
}

// The same for the CUDA backend, whose kernels compute in fp32, bf16 and fp16 only.
template <class F>
auto with_cuda_model_types(const std::string& precision, VisionFamily family, F&& f) {
  EVACLIP_CHECK(precision != fp64::name, "--precision fp64 runs on the CPU only: the CUDA kernels compute in fp32, "
                "bf16 and fp16");
  std::invoke_result_t<F&, fp32, Eva02Block*> result{};
  if (!detail::with_policy_named<fp32, bf16_mixed, fp16_mixed>(precision, family, f, result))
    fail("unknown precision \"", precision, "\" (valid: ", kPrecisionNames, ")");
  return result;
}

template <class Block>
struct LoadedClip {
  Clip<Block> model;
  ParamList params;  // the model's parameters under their official keys (cfg.text_keys layout)
  LoadReport report;
};

// A Clip<Block> in policy P's parameter dtype, every parameter read from `weights` (load_weights: any
// accepted key layout; a checkpoint that does not fit is one error listing every problem), then moved to
// `device` (the tape that runs it must be on the same one).
template <class P, class Block>
LoadedClip<Block> load_clip(const ModelConfig& cfg, const SafetensorsFile& weights, Device device = Device::cpu) {
  ParamInit init = ParamInit::for_policy<P>(0);
  LoadedClip<Block> m{Clip<Block>(init, cfg.clip), {}, {}};
  m.params = m.model.params(cfg.text_keys);
  m.report = load_weights(m.params, weights);
  if (device != Device::cpu)
    for (const NamedParam& p : m.params) p.var.move_to(device);
  return m;
}

}  // namespace evaclip::nn
