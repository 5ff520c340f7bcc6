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

// Calls f(P{}, static_cast<Block*>(nullptr)) with the policy whose name is `precision` (fp64, fp32, bf16 =
// bf16_mixed, fp16 = fp16_mixed) and the compiled block of `family`.
template <class F>
decltype(auto) with_model_types(const std::string& precision, VisionFamily family, F&& f) {
  auto with = [&]<class P>(P) -> decltype(auto) {
    return with_vision_block(family, [&]<class Block>(Block* tag) -> decltype(auto) { return f(P{}, tag); });
  };
  if (precision == fp64::name) return with(fp64{});
  if (precision == fp32::name) return with(fp32{});
  if (precision == bf16_mixed::name) return with(bf16_mixed{});
  if (precision == fp16_mixed::name) return with(fp16_mixed{});
  fail("unknown precision \"", precision, "\" (valid: ", kPrecisionNames, ")");
}

template <class Block>
struct LoadedClip {
  Clip<Block> model;
  ParamList params;  // the model's parameters under their official keys (cfg.text_keys layout)
  LoadReport report;
};

// A Clip<Block> in policy P's parameter dtype, every parameter read from `weights` (load_weights: any
// accepted key layout; a checkpoint that does not fit is one error listing every problem).
template <class P, class Block>
LoadedClip<Block> load_clip(const ModelConfig& cfg, const SafetensorsFile& weights) {
  ParamInit init = ParamInit::for_policy<P>(0);
  LoadedClip<Block> m{Clip<Block>(init, cfg.clip), {}, {}};
  m.params = m.model.params(cfg.text_keys);
  m.report = load_weights(m.params, weights);
  return m;
}

}  // namespace evaclip::nn
