// trainer.hpp — defines run<Policy, Block>() (the EVA-CLIP training run for one precision and vision block:
// the model, its initialisation, then train_loop) and train() (the run-time choice of both), behind
// evaclip-train and the demo. The loop itself, one step at a time, is train_loop.hpp.
#pragma once

#include <filesystem>
#include <string>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "evaclip/nn/clip.hpp"
#include "evaclip/nn/load_model.hpp"
#include "evaclip/nn/pretrained.hpp"
#include "evaclip/train/train_loop.hpp"

namespace evaclip::train {

// --model: a JSON file when one exists at that path, else a variant name; --block, when given, names the
// vision block (one of Blocks).
template <class Blocks = nn::CompiledBlocks>
nn::ModelConfig resolve_model(const std::string& model, const std::string& block = "") {
  const bool file = std::filesystem::is_regular_file(model);
  return nn::resolve_model_config<Blocks>(file ? model : "", file ? "" : model, block);
}

// The precisions train() accepts (by P::name: fp32, bf16, fp16).
using TrainPrecisions = nn::TypeList<fp32, bf16_mixed, fp16_mixed>;

// Trains Clip<Block> in precision P on the CPU as the options say (o.model, o.block and o.precision are
// not read: cfg is the model). Not inline: a program may compile each (P, Block) in a translation unit of
// its own (examples/CMakeLists.txt) and declare it `extern template` where it dispatches.
template <class P, class Block>
TrainResult run(const TrainOptions& o, const nn::ModelConfig& model_cfg) {
  nn::ModelConfig cfg = model_cfg;
  if (o.patch_dropout >= 0) cfg.clip.vision.patch_dropout = o.patch_dropout;
  if (o.drop_path >= 0) cfg.clip.vision.drop_path_rate = o.drop_path;
  nn::ParamInit init = nn::ParamInit::for_policy<P>(o.seed);
  nn::Clip<Block> model(init, cfg.clip);
  model.visual.grad_checkpointing = o.grad_checkpointing;
  const nn::ParamList params = model.params(nn::TextKeys::prefixed);

  std::vector<std::string> skip = o.skip_list.empty() ? nn::default_skip_list() : o.skip_list;
  if (!o.pretrained.empty()) nn::load_weights(params, SafetensorsFile(o.pretrained));
  if (!o.pretrained_image.empty())
    std::fprintf(stderr, "%s\n", nn::load_pretrained_image(params, cfg.clip.vision, o.pretrained_image, skip).summary().c_str());
  if (!o.pretrained_text.empty())
    std::fprintf(stderr, "%s\n", nn::load_pretrained_text(params, o.pretrained_text, skip).summary().c_str());

  const TrainableModel<P> trainable{params, model.logit_scale,
                                    [&model](Tape<P>& tape, const Var& images, const Tensor& ids, Rng& rng) {
                                      return model.forward(tape, images, ids, &rng).loss;
                                    }};
  return train_loop<P>(o, cfg.clip, trainable);
}

// Runs (or resumes) a training run as the options say; returns where it ended. The vision block is one
// of Blocks and the precision one of Precisions: a program built with fewer (EVACLIP_BLOCKS,
// EVACLIP_PRECISIONS) passes its lists, and asking for another is a one-line error.
template <class Blocks = nn::CompiledBlocks, class Precisions = TrainPrecisions>
TrainResult train(const TrainOptions& o) {
  EVACLIP_CHECK(o.device == "cpu", "--device ", o.device, ": not built yet: training runs on the CPU for now");
  EVACLIP_CHECK(!o.train_data.empty(), "--train-data is required");
  EVACLIP_CHECK(o.batch_size > 0 && (o.steps > 0 || o.epochs > 0), "--batch-size and --epochs or --steps must be positive");
  EVACLIP_CHECK(o.threads >= 0, "--threads ", o.threads, " must be 0 (OpenMP's default) or positive");
#ifdef _OPENMP
  if (o.threads > 0) omp_set_num_threads(o.threads);  // also OpenBLAS's: its OpenMP build asks OpenMP
#endif
  const nn::ModelConfig cfg = resolve_model<Blocks>(o.model, o.block);
  return nn::with_model_types<Blocks, Precisions>(o.precision, cfg.block,
                                                  [&]<class P, class Block>(P, std::type_identity<Block>) {
                                                    return run<P, Block>(o, cfg);
                                                  });
}

}  // namespace evaclip::train
