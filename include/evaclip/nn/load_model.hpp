// load_model.hpp — defines what every program that runs a model shares: resolve_model_config (a released
// variant by name, or a config file; a program's --block may name the vision block), with_model_types
// (the run-time choice of precision policy and vision block) and load_clip (a Clip of that block with a
// checkpoint's weights).
//
//   nn::with_model_types(precision, cfg.block, [&]<class P, class Block>(P, std::type_identity<Block>) {
//     const auto m = nn::load_clip<P, Block>(cfg, weights);   // m.model, m.params, m.report
//     ...
//   });
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/clip.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_stats.hpp"
#include "evaclip/precision/policy.hpp"

namespace evaclip::nn {

// Exactly one of a config file (official model_configs schema) and a released variant's name; `block`,
// when not empty, names the vision block instead of the file's flags or the variant's (one of Blocks).
template <class Blocks = CompiledBlocks>
ModelConfig resolve_model_config(const std::string& config_path, const std::string& variant,
                                 const std::string& block = "") {
  EVACLIP_CHECK(config_path.empty() != variant.empty(), "give either --config FILE.json or --model NAME",
                config_path.empty() ? "" : ", not both");
  if (!config_path.empty()) return read_model_config<Blocks>(config_path, block);
  ModelConfig m = find_variant(variant);
  if (!block.empty()) m.block = block;
  if (!has_name(m.block, Blocks{})) missing_block<Blocks>(m.block, block.empty() ? "--model " + variant : "--block");
  return m;
}

// The precision policies programs accept, by name (fp64, fp32, bf16 = bf16_mixed, fp16 = fp16_mixed); the
// CUDA kernels compute in the last three.
using AllPrecisions = TypeList<fp64, fp32, bf16_mixed, fp16_mixed>;
using CudaPrecisions = TypeList<fp32, bf16_mixed, fp16_mixed>;

// The one-line error for a precision not in `Precisions`: unknown, or left out of this program's build.
template <class Precisions>
[[noreturn]] void missing_precision(std::string_view name) {
  if (has_name(name, AllPrecisions{}))
    fail("--precision ", std::string(name), " is not built into this program (built: ", names_of(Precisions{}),
         "; CMake option EVACLIP_PRECISIONS)");
  fail("unknown precision \"", std::string(name), "\" (valid: ", names_of(AllPrecisions{}), ")");
}

// Calls f(P{}, std::type_identity<Block>{}) with the policy of Precisions named `precision` and the block
// of Blocks named `block`, and returns its result (the same type for every pair).
template <class Blocks = CompiledBlocks, class Precisions = AllPrecisions, class F>
decltype(auto) with_model_types(const std::string& precision, const std::string& block, F&& f) {
  return with_vision_block<Blocks>(block, [&]<class Block>(std::type_identity<Block> tag) -> decltype(auto) {
    auto with_policy = [&]<class P>(std::type_identity<P>) -> decltype(auto) { return f(P{}, tag); };
    return with_named(Precisions{}, precision, with_policy, [&] { missing_precision<Precisions>(precision); });
  });
}

// The same for the CUDA backend, whose kernels compute in fp32, bf16 and fp16 only.
template <class Blocks = CompiledBlocks, class Precisions = CudaPrecisions, class F>
decltype(auto) with_cuda_model_types(const std::string& precision, const std::string& block, F&& f) {
  EVACLIP_CHECK(precision != fp64::name, "--precision fp64 runs on the CPU only: the CUDA kernels compute in fp32, "
                "bf16 and fp16");
  return with_model_types<Blocks, Precisions>(precision, block, f);
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
