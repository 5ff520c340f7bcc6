// train_state.hpp — defines training checkpoints: save_checkpoint, load_checkpoint, find_latest_checkpoint.
//
// A checkpoint is two safetensors files in one folder, written atomically (temporary file, then rename):
//   step_000120.safetensors        the model's parameters under their checkpoint names ("visual.…", "text.…",
//                                  "logit_scale"): a plain weights file every evaclip program loads
//   step_000120.state.safetensors  the optimiser's state ("optim.…") and, as metadata, everything else a
//                                  resume needs: step, data position, RNG and loss-scale state
// Both carry the step in their metadata and a CRC-32 per tensor (io/safetensors.hpp). The state file is
// written first, so a crash or a full disk between the two writes leaves no model file for that step, and
// find_latest_checkpoint passes over a step whose files are missing, damaged or disagree.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <system_error>
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

// meta must hold "step"; it is stored in both files. A failed write (a full disk) leaves the earlier
// checkpoints as they were and no file of this step: a state file whose model file could not be written is
// removed again.
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
  try {
    save_safetensors(paths.model, weights, {{"step", meta.at("step")}, {"format", "evaclip-train"}});
  } catch (const Error&) {
    std::error_code ignored;  // the write's error is the one to report
    std::filesystem::remove(paths.state, ignored);
    throw;
  }
  return paths;
}

namespace detail {
// Both files of a checkpoint, open, with the same step, and every tensor checked against its checksum.
struct OpenCheckpoint {
  SafetensorsFile model, state;
};
inline OpenCheckpoint open_checkpoint(const std::string& model_path) {
  OpenCheckpoint c{SafetensorsFile(model_path), SafetensorsFile(state_path_for(model_path))};
  const auto step_of = [](const SafetensorsFile& f) {
    const auto it = f.metadata().find("step");
    EVACLIP_CHECK(it != f.metadata().end(), "checkpoint ", f.path(), ": no \"step\" in its metadata");
    return it->second;
  };
  EVACLIP_CHECK(step_of(c.model) == step_of(c.state), "checkpoint ", model_path, " is step ", step_of(c.model), " but ",
                c.state.path(), " is step ", step_of(c.state));
  c.model.verify();
  c.state.verify();
  return c;
}
}  // namespace detail

// Restores parameters and optimiser state bit for bit and returns the state file's metadata. Both files are
// checked against their checksums first, so a damaged checkpoint is an error that changes nothing.
inline Metadata load_checkpoint(const std::string& model_path, const nn::ParamList& params, Optimizer& opt) {
  const detail::OpenCheckpoint c = detail::open_checkpoint(model_path);
  nn::load_weights(params, c.model);
  std::map<std::string, Tensor> tensors;
  for (const auto& k : c.state.keys()) tensors.emplace(k, c.state.tensor(k));
  opt.load_state(tensors);
  return c.state.metadata();
}

inline void warn_on_stderr(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

// The model file of the newest checkpoint in `dir` whose two files open, agree on the step and match their
// checksums, or "" when there is none. Each newer step passed over (a file missing, truncated or damaged) is
// reported in one line to `warn`.
inline std::string find_latest_checkpoint(const std::string& dir,
                                          const std::function<void(const std::string&)>& warn = warn_on_stderr) {
  namespace fs = std::filesystem;
  std::map<long long, std::string, std::greater<>> steps;  // newest first -> model file
  if (!fs::is_directory(dir)) return "";
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    long long step = 0;
    char rest[32] = {};
    if (std::sscanf(name.c_str(), "step_%lld%31s", &step, rest) != 2) continue;
    const std::string suffix = rest;
    if (suffix != ".safetensors" && suffix != ".state.safetensors") continue;
    const std::string stem = name.substr(0, name.size() - suffix.size());
    steps.emplace(step, (e.path().parent_path() / (stem + ".safetensors")).string());
  }
  for (const auto& [step, model] : steps) {
    try {
      detail::open_checkpoint(model);
      return model;
    } catch (const Error& e) {
      warn("skipping checkpoint " + model + ": " + e.what());
    }
  }
  return "";
}

}  // namespace evaclip::train
