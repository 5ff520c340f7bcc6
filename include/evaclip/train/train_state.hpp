// train_state.hpp — defines training checkpoints: save_checkpoint, load_checkpoint, find_latest_checkpoint.
//
// A checkpoint is two safetensors files in one folder, written atomically (temporary file, then rename):
//   step_000120.safetensors        the model's parameters under their checkpoint names ("visual.…", "text.…",
//                                  "logit_scale"): a plain weights file every evaclip program loads
//   step_000120.state.safetensors  the optimiser's state ("optim.…") and, as metadata, everything else a
//                                  resume needs: step, data position, RNG and loss-scale state
// The state file is written first and both carry the step in their metadata, so a crash between the two
// writes leaves a state file without its model file, which find_latest_checkpoint passes over.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/train/optimizer.hpp"

namespace evaclip::train {

using Metadata = std::map<std::string, std::string>;

struct CheckpointPaths {
  std::string model, state;
};

inline CheckpointPaths checkpoint_paths(const std::string& dir, std::int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%06lld", static_cast<long long>(step));
  const std::filesystem::path base = std::filesystem::path(dir) / name;
  return {base.string() + ".safetensors", base.string() + ".state.safetensors"};
}

// The state file that belongs to a model checkpoint path.
inline std::string state_path_for(const std::string& model_path) {
  const std::string suffix = ".safetensors";
  EVACLIP_CHECK(model_path.size() > suffix.size() && model_path.ends_with(suffix), "checkpoint ", model_path,
                ": expected a .safetensors model file");
  return model_path.substr(0, model_path.size() - suffix.size()) + ".state.safetensors";
}

// meta must hold "step"; it is stored in both files.
inline CheckpointPaths save_checkpoint(const std::string& dir, const nn::ParamList& params, const Optimizer& opt,
                                       const Metadata& meta) {
  EVACLIP_CHECK(meta.count("step"), "save_checkpoint: metadata without \"step\"");
  std::filesystem::create_directories(dir);
  const CheckpointPaths paths = checkpoint_paths(dir, std::stoll(meta.at("step")));
  std::vector<std::pair<std::string, Tensor>> state;
  opt.save_state(state);
  save_safetensors(paths.state, std::map<std::string, Tensor>(state.begin(), state.end()), meta);
  std::map<std::string, Tensor> weights;
  for (const auto& p : params) weights.emplace(p.name, p.var.value());
  save_safetensors(paths.model, weights, {{"step", meta.at("step")}, {"format", "evaclip-train"}});
  return paths;
}

// Restores parameters and optimiser state bit for bit and returns the state file's metadata.
inline Metadata load_checkpoint(const std::string& model_path, const nn::ParamList& params, Optimizer& opt) {
  const std::string state_path = state_path_for(model_path);
  const SafetensorsFile model(model_path), state(state_path);
  const auto step_of = [](const SafetensorsFile& f) {
    const auto it = f.metadata().find("step");
    EVACLIP_CHECK(it != f.metadata().end(), "checkpoint ", f.path(), ": no \"step\" in its metadata");
    return it->second;
  };
  EVACLIP_CHECK(step_of(model) == step_of(state), "checkpoint ", model_path, " is step ", step_of(model), " but ",
                state_path, " is step ", step_of(state));
  nn::load_weights(params, model);
  std::map<std::string, Tensor> tensors;
  for (const auto& k : state.keys()) tensors.emplace(k, state.tensor(k));
  opt.load_state(tensors);
  return state.metadata();
}

// The model file of the highest step in `dir` that has its state file, or "" when there is none.
inline std::string find_latest_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string best;
  long long best_step = -1;
  if (!fs::is_directory(dir)) return best;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    long long step = 0;
    char rest[32] = {};
    if (std::sscanf(name.c_str(), "step_%lld%31s", &step, rest) != 2 || std::string(rest) != ".safetensors") continue;
    if (step > best_step && fs::exists(state_path_for(e.path().string()))) best_step = step, best = e.path().string();
  }
  return best;
}

}  // namespace evaclip::train
