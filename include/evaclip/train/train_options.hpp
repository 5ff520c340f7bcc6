// train_options.hpp — defines TrainOptions (what evaclip-train's flags set) and TrainResult (where a run
// ended), shared by the training loop (train_loop.hpp) and its entry points (trainer.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "evaclip/core/backend.hpp"

namespace evaclip::train {

// Flag names follow EVA-CLIP's training/params.py (see docs/training.md). Negative values mean "unset".
struct TrainOptions {
  // model and initialisation
  std::string model = "EVA02-CLIP-B-16";  // a variant name or a model_configs JSON file
  std::string block;                      // the vision block by name (nn/families.hpp); empty: the model's
  std::string pretrained;                 // a whole CLIP checkpoint (.safetensors)
  std::string pretrained_image, pretrained_text;
  std::vector<std::string> skip_list;     // empty: nn::default_skip_list()
  // data
  std::string train_data;
  std::int64_t train_num_samples = 0;  // samples per "epoch" (EVA-CLIP's resampled 40M); 0: the data's size
  std::string csv_img_key = "filepath", csv_caption_key = "title";
  char csv_separator = '\t';
  int workers = 2;
  // schedule
  std::int64_t batch_size = 64, epochs = 1, steps = 0;  // steps > 0 overrides epochs
  std::int64_t warmup = 2000;
  // optimiser (docs/model-spec.md §5)
  std::string optimizer = "lamb";
  double lr = 5e-4, visual_lr = -1, text_lr = -1;  // towers default to lr; "other" (logit_scale) uses lr
  double ld = 1.0, visual_ld = -1, text_ld = -1;
  double wd = 0.05, visual_wd = -1, text_wd = -1;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 5.0;  // <= 0: off
  // model features
  double patch_dropout = -1;  // -1: the model config's value
  double drop_path = -1;      // -1: the model config's value
  bool grad_checkpointing = false;
  std::string precision = "fp32";  // fp32 | bf16 | fp16
  int initial_scale_power = 16;    // fp16: the dynamic loss scale starts at 2^this (DeepSpeed's name)
  std::string device = "cpu";
  Fusion fusion;  // the fused kernels the backend runs (--unfused switches some off; no CPU result changes)
  int threads = 0;  // OpenMP threads for the model (0: OpenMP's default); the loader has its own workers
  std::uint64_t seed = 4096;
  // output
  std::string logs = "./logs", name = "evaclip";
  std::int64_t save_frequency = 1;  // checkpoint every N epochs (0: only at the end)
  std::int64_t save_steps = 0;      // and every N steps (0: off)
  std::string resume;               // a checkpoint's model file, or "latest" (in <logs>/<name>/checkpoints)
  std::int64_t stop_at = 0;         // end this run after step k with a checkpoint (a planned interruption)
  bool quiet = false;               // no progress line

  std::string run_dir() const { return (std::filesystem::path(logs) / name).string(); }
  std::string checkpoint_dir() const { return (std::filesystem::path(run_dir()) / "checkpoints").string(); }
  std::string log_path() const { return (std::filesystem::path(run_dir()) / "log.jsonl").string(); }
};

struct TrainResult {
  std::int64_t step = 0, total_steps = 0;
  double loss = 0, samples_per_s = 0, seconds = 0;
  std::int64_t skipped_steps = 0, skipped_samples = 0;
  std::string checkpoint, log;
};

}  // namespace evaclip::train
