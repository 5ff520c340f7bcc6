// model_options.hpp — defines ModelOptions: the command-line options that every program running a model
// shares (--model | --config, --block, --weights, --precision, --device, --unfused), for evaclip-features,
// -zeroshot and -retrieval.
//
// Also the help texts of --block and --unfused, which evaclip-train and evaclip-info share.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/nn/load_model.hpp"

inline constexpr const char* kBlockHelp =
    "the vision block by name, instead of the config's flags or the variant's (eva01, eva01-layer-scale, eva02, "
    "eva-postnorm, or a block of your own in nn/families.hpp)";
inline constexpr const char* kUnfusedHelp = "fusions to switch off: attention, add_norm, swiglu_norm, all";

struct ModelOptions {
  std::string config, model, block, weights, precision = "fp32", device = "cpu", unfused;

  void add_to(CLI::App& app) {
    auto* by_config = app.add_option("--config", config, "model config JSON (official model_configs schema)");
    app.add_option("--model", model, "a released variant, e.g. EVA02-CLIP-B-16")->excludes(by_config);
    app.add_option("--block", block, kBlockHelp);
    app.add_option("--weights", weights, "checkpoint (.safetensors; tools/convert_checkpoint.py converts a .pt)")
        ->required();
    app.add_option("--precision", precision, "fp32, fp64, bf16 or fp16 (16-bit: mixed, emulated on the CPU)")
        ->check(CLI::IsMember({"fp64", "fp32", "bf16", "fp16"}));
    app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
    app.add_option("--unfused", unfused, kUnfusedHelp);
  }

  // The model's config, after the checks that need no file: the device first.
  evaclip::nn::ModelConfig resolve() const {
    if (device == "cuda") {
#if !defined(EVACLIP_WITH_CUDA)
      evaclip::fail("--device cuda: this build of evaclip has no CUDA backend (configure with EVACLIP_CUDA=ON)");
#endif
      EVACLIP_CHECK(evaclip::cuda_available(), "--device cuda: no CUDA device is visible");
    }
    fusion();  // a bad --unfused fails before any file is read
    return evaclip::nn::resolve_model_config(config, model, block);
  }
  evaclip::Device device_kind() const { return device == "cuda" ? evaclip::Device::cuda : evaclip::Device::cpu; }
  evaclip::Fusion fusion() const { return evaclip::fusion_without(unfused); }
};
