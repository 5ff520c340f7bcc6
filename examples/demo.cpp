// demo.cpp — evaclip-demo, what `make demo` runs: the whole library end to end on the CPU in a few minutes.
//
// 1. Writes the synthetic shapes data set as real files (data/synthetic_shapes.hpp): coloured shapes on
//    textured backgrounds, PNG images + a TSV of captions, and held-out images in class folders.
// 2. Trains a tiny EVA02-style CLIP (2D RoPE, sub-LN, SwiGLU; a causal text tower with the real CLIP BPE
//    tokenizer) with the library's training loop (train/trainer.hpp): the data loader, LAMB with parameter
//    groups and layer decay, warm-up + cosine, gradient clipping, a JSONL log and a checkpoint.
// 3. Classifies the held-out images zero-shot from prompt templates (eval/zero_shot_eval.hpp) and ends with
//    the line `zero-shot top-1: XX.X% (chance YY.Y%)`.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/data/synthetic_shapes.hpp"
#include "evaclip/eval/zero_shot_eval.hpp"
#include "evaclip/train/trainer.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {

// EVA02-CLIP-B/16's architecture at toy size, in the official model_configs schema.
const char* kDemoModel = R"({
  "embed_dim": 32,
  "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 64, "layers": 2, "head_width": 16,
                 "mlp_ratio": 2.6667, "pt_hw_seq_len": 4, "rope": true, "subln": true, "naiveswiglu": true,
                 "xattn": false, "fusedLN": false},
  "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 1}
})";

// The recipe's initialisation assumes pretrained towers (docs/model-spec.md §5: MIM and CLIP checkpoints;
// std 0.02, the head near zero). A model this small trained from scratch learns slowly from it, so the demo starts from
// its own checkpoint in which every matrix is drawn with std 1/sqrt(fan_in), and trains from that with
// --pretrained.
void write_scratch_init(const nn::ModelConfig& cfg, const std::string& path, std::uint64_t seed) {
  nn::ParamInit init = nn::ParamInit::for_policy<fp32>(seed);
  const nn::Clip<nn::Eva02Block> model(init, cfg.clip);
  Rng rng(seed + 1);
  std::map<std::string, Tensor> weights;
  for (const auto& p : model.params()) {
    const Shape& s = p.var.shape();
    const bool matrix = s.size() == 2 && p.name.ends_with("weight") && p.name.find("embedding") == std::string::npos;
    weights.emplace(p.name, matrix ? Tensor::randn(s, DType::f32, rng, 1.0 / std::sqrt(double(s[1]))) : p.var.value());
  }
  save_safetensors(path, weights);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"evaclip-demo: write a synthetic image-caption data set, train a tiny EVA02-style CLIP on it with "
               "the EVA-CLIP recipe, then classify held-out images zero-shot"};
  std::string out = "out/demo";
  data::SyntheticSpec spec;
  train::TrainOptions o;
  o.batch_size = 64, o.steps = 1500, o.warmup = 100, o.lr = 1e-2, o.wd = 0.05, o.workers = 2;
  // The toy model's ops are too small to share among threads: with the loader decoding beside it, a second
  // OpenMP thread mostly waits at barriers (docs/performance.md, "The demo").
  o.threads = 1;
  app.add_option("--out", out, "output folder (data, log, checkpoint)")->capture_default_str();
  app.add_option("--train-images", spec.train_images, "training images to write")->capture_default_str();
  app.add_option("--test-per-class", spec.test_per_class, "held-out images per class")->capture_default_str();
  app.add_option("--steps", o.steps, "training steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size)->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "LAMB base learning rate (both towers and logit_scale)")->capture_default_str();
  app.add_option("--warmup", o.warmup)->capture_default_str();
  app.add_option("--optimizer", o.optimizer)->capture_default_str()->check(CLI::IsMember({"lamb", "adamw"}));
  app.add_option("--workers", o.workers, "data loading threads")->capture_default_str();
  app.add_option("--threads", o.threads, "OpenMP threads for the model (0: OpenMP's default)")->capture_default_str();
  app.add_option("--seed", o.seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("evaclip-demo: writing %d training and %d held-out images to %s/data\n", spec.train_images,
                spec.test_per_class * data::SyntheticShapes::num_classes(), out.c_str());
    std::fflush(stdout);
    const data::SyntheticFiles files = write_synthetic_shapes((fs::path(out) / "data").string(), spec);
    const std::string model_path = (fs::path(out) / "model.json").string();
    {
      io::AtomicFileWriter w(model_path, "evaclip-demo");
      w.write(kDemoModel, std::strlen(kDemoModel));
      w.commit();
    }
    const nn::ModelConfig cfg = train::resolve_model(model_path);
    const std::string init_path = (fs::path(out) / "init.safetensors").string();
    write_scratch_init(cfg, init_path, o.seed);

    o.model = model_path, o.pretrained = init_path, o.train_data = files.train_tsv;
    o.logs = out, o.name = "run", o.save_frequency = 0;
    std::printf("training a tiny EVA02-CLIP (%s) for %lld steps of %lld\n", model_path.c_str(),
                static_cast<long long>(o.steps), static_cast<long long>(o.batch_size));
    std::fflush(stdout);
    // The demo's model is EVA02-style and trains in fp32: only that pair is compiled here.
    const train::TrainResult r = train::train<nn::TypeList<nn::Eva02Block>, nn::TypeList<fp32>>(o);
    std::printf("trained in %.1f s: %.1f samples/s, final loss %.4f\nlog: %s\ncheckpoint: %s\n", r.seconds,
                r.samples_per_s, r.loss, r.log.c_str(), r.checkpoint.c_str());

    const auto classnames = eval::read_classnames(files.classnames);
    const auto templates = eval::read_templates(files.templates);
    const eval::LabelledImages test = eval::image_folder(files.test_folder, classnames.size(), files.classnames);
    const auto encoder = eval::make_cpu_encoder<fp32, nn::Eva02Block>(cfg, SafetensorsFile(r.checkpoint), {});
    const text::Tokenizer tok;
    const eval::ZeroShotResult zs = eval::zero_shot_eval(*encoder, tok, test, classnames, templates, 256, false);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("held-out: %lld images of %zu classes, %zu prompt templates; top-5 %.1f%%; demo took %.0f s\n",
                static_cast<long long>(zs.metrics.samples), classnames.size(), templates.size(),
                100 * zs.metrics.top_k[1], secs);
    std::printf("zero-shot top-1: %.1f%% (chance %.1f%%)\n", 100 * zs.metrics.top_k[0], 100.0 / double(classnames.size()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
