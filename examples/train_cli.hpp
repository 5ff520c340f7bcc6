// train_cli.hpp — defines train_main<Blocks, Precisions>(): evaclip-train's command line (flags as in
// EVA-CLIP's training/params.py; docs/training.md maps each official run to a command line), shared by
// evaclip-train (the blocks and precisions this build compiled) and evaclip-custom-variant (a block of its own).
#pragma once

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/train/trainer.hpp"
#include "model_options.hpp"

namespace evaclip::examples {

// Parses the command line over `o` (its values are the defaults), trains, prints where the run ended and
// returns the exit status; errors are one line on stderr, exit 1.
template <class Blocks, class Precisions = train::TrainPrecisions>
int train_main(int argc, char** argv, const char* program, train::TrainOptions o = {}) {
  CLI::App app{"Train an EVA-CLIP model (LAMB, layer-wise lr decay, warm-up + cosine, patch dropout, mixed precision)"};
  std::string sep = "\t", unfused;
  app.add_option("--model", o.model, "a variant name (EVA02-CLIP-B-16, ...) or a model_configs JSON file")
      ->capture_default_str();
  app.add_option("--block", o.block, kBlockHelp);
  app.add_option("--pretrained", o.pretrained, "initialise the whole model from a CLIP checkpoint (.safetensors)");
  app.add_option("--pretrained-image", o.pretrained_image, "vision tower from an EVA MIM checkpoint (official or timm layout)");
  app.add_option("--pretrained-text", o.pretrained_text, "text tower from an OpenAI CLIP / OpenCLIP checkpoint");
  app.add_option("--skip-list", o.skip_list, "keys not taken from the pretrained towers (default: head.*, lm_head.*, "
                                             "mask_token, text_projection, logit_scale)");
  app.add_option("--train-data", o.train_data, "a CSV/TSV of image path + caption, or webdataset shards "
                                               "'dir/{00000..00099}.tar' ('::' joins several)")->required();
  app.add_option("--train-num-samples", o.train_num_samples, "samples per epoch for --epochs (default: the data's size)");
  app.add_option("--csv-img-key", o.csv_img_key)->capture_default_str();
  app.add_option("--csv-caption-key", o.csv_caption_key)->capture_default_str();
  app.add_option("--csv-separator", sep, "column separator (default: tab)");
  app.add_option("--workers", o.workers, "data loading threads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--epochs", o.epochs, "passes over the data")->capture_default_str();
  app.add_option("--steps", o.steps, "total optimiser steps (overrides --epochs)");
  app.add_option("--warmup", o.warmup, "linear warm-up steps before the cosine decay")->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "lamb or adamw")->capture_default_str()
      ->check(CLI::IsMember({"lamb", "adamw"}));
  app.add_option("--lr", o.lr, "base learning rate (towers default to it; logit_scale uses it)")->capture_default_str();
  app.add_option("--visual-lr", o.visual_lr, "vision tower base learning rate");
  app.add_option("--text-lr", o.text_lr, "text tower base learning rate");
  app.add_option("--ld", o.ld, "layer-wise lr decay (both towers)")->capture_default_str();
  app.add_option("--visual-ld", o.visual_ld, "layer-wise lr decay of the vision tower");
  app.add_option("--text-ld", o.text_ld, "layer-wise lr decay of the text tower");
  app.add_option("--wd", o.wd, "weight decay")->capture_default_str();
  app.add_option("--visual-wd", o.visual_wd);
  app.add_option("--text-wd", o.text_wd);
  app.add_option("--beta1", o.beta1)->capture_default_str();
  app.add_option("--beta2", o.beta2)->capture_default_str();
  app.add_option("--eps", o.eps)->capture_default_str();
  app.add_option("--grad-clip,--grad-clip-norm", o.grad_clip, "global gradient L2-norm clip (0: off)")
      ->capture_default_str();
  app.add_option("--patch-dropout,--force-patch-dropout", o.patch_dropout, "FLIP patch dropout rate (default: the config's)");
  app.add_option("--drop-path", o.drop_path, "stochastic depth rate (default: the config's drop_path_rate)");
  app.add_flag("--grad-checkpointing", o.grad_checkpointing, "recompute each vision block in backward");
  app.add_option("--precision", o.precision, "fp32, bf16 (mixed) or fp16 (mixed, dynamic loss scaling)")
      ->capture_default_str()->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  app.add_option("--initial-scale-power", o.initial_scale_power, "fp16: the loss scale starts at 2^N")
      ->capture_default_str();
  app.add_option("--unfused", unfused, kUnfusedHelp);
  app.add_option("--device", o.device, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--threads", o.threads, "OpenMP threads for the model (default: OMP_NUM_THREADS or all cores)");
  app.add_option("--seed", o.seed)->capture_default_str();
  app.add_option("--logs", o.logs, "output root")->capture_default_str();
  app.add_option("--name", o.name, "run name: output goes to <logs>/<name>")->capture_default_str();
  app.add_option("--save-frequency", o.save_frequency, "checkpoint every N epochs (0: only at the end)")
      ->capture_default_str();
  app.add_option("--save-steps", o.save_steps, "also checkpoint every N steps");
  app.add_option("--resume", o.resume, "a checkpoint (step_N.safetensors) or 'latest'");
  app.add_option("--stop-at", o.stop_at, "end this run after step N with a checkpoint (resume later)");
  app.add_flag("--quiet", o.quiet, "no progress line");
  CLI11_PARSE(app, argc, argv);
  try {
    EVACLIP_CHECK(sep.size() == 1 || sep == "\\t", "--csv-separator: one character expected, got '", sep, "'");
    o.csv_separator = sep == "\\t" ? '\t' : sep[0];
    o.fusion = fusion_without(unfused);
    const train::TrainResult r = train::train<Blocks, Precisions>(o);
    std::printf("trained %lld/%lld steps in %.1f s (%.1f samples/s), loss %.4f, %lld steps skipped, %lld samples "
                "skipped\ncheckpoint: %s\nlog: %s\n",
                static_cast<long long>(r.step), static_cast<long long>(r.total_steps), r.seconds, r.samples_per_s,
                r.loss, static_cast<long long>(r.skipped_steps), static_cast<long long>(r.skipped_samples),
                r.checkpoint.c_str(), r.log.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
  return 0;
}

}  // namespace evaclip::examples
