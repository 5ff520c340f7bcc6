// trainer.hpp — defines TrainOptions and train(): the EVA-CLIP training loop behind evaclip-train and the demo.
//
// One step (spec §4–5): next batch -> lr factor (warm-up, then cosine) -> forward in the policy's precision
// with patch dropout and drop path drawn from the run's Rng -> backward of the loss times the loss scale ->
// unscale and look for inf/NaN -> global gradient-norm clip -> the loss scaler decides (an overflow skips
// the step) -> LAMB/AdamW step -> logit_scale clamped to [0, ln 100] -> one JSONL record.
// Exact resume: a checkpoint holds the weights, the optimiser state (fp32 masters included), the step, the
// data position, the Rng and the loss-scale state, so k steps + resume + (N - k) steps equal N steps bit for
// bit on the CPU.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "evaclip/data/loader.hpp"
#include "evaclip/nn/clip.hpp"
#include "evaclip/nn/load_model.hpp"
#include "evaclip/nn/pretrained.hpp"
#include "evaclip/precision/unscale.hpp"
#include "evaclip/train/grad_clip.hpp"
#include "evaclip/train/optimizer.hpp"
#include "evaclip/train/param_groups.hpp"
#include "evaclip/train/schedule.hpp"
#include "evaclip/train/train_log.hpp"
#include "evaclip/train/train_state.hpp"

namespace evaclip::train {

// Flag names follow EVA-CLIP's training/params.py (see docs/training.md). Negative values mean "unset".
struct TrainOptions {
  // model and initialisation
  std::string model = "EVA02-CLIP-B-16";  // a variant name or a model_configs JSON file
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
  // optimiser (spec §5)
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

// --model: a JSON file when one exists at that path, else a variant name.
inline nn::ModelConfig resolve_model(const std::string& model) {
  const bool file = std::filesystem::is_regular_file(model);
  return nn::resolve_model_config(file ? model : "", file ? "" : model);
}

namespace detail {

inline GroupSettings group_settings(const TrainOptions& o, const nn::ClipCfg& c) {
  auto or_ = [](double v, double fallback) { return v >= 0 ? v : fallback; };
  GroupSettings g;
  g.visual_lr = or_(o.visual_lr, o.lr), g.text_lr = or_(o.text_lr, o.lr), g.other_lr = o.lr;
  g.visual_ld = or_(o.visual_ld, o.ld), g.text_ld = or_(o.text_ld, o.ld);
  g.visual_wd = or_(o.visual_wd, o.wd), g.text_wd = or_(o.text_wd, o.wd), g.other_wd = o.wd;
  g.visual_layers = c.vision.layers, g.text_layers = c.text.layers;
  return g;
}

template <class Scaler>
void save_scaler(const Scaler& s, Metadata& m) {
  if constexpr (std::is_same_v<Scaler, DynamicLossScale>) {
    std::ostringstream os;
    os << std::hexfloat << s.value << ' ' << s.good_steps << ' ' << s.overflows_since_growth;
    m["loss_scale"] = os.str();
  }
}
template <class Scaler>
void load_scaler(Scaler& s, const Metadata& m) {
  if constexpr (std::is_same_v<Scaler, DynamicLossScale>) {
    const auto it = m.find("loss_scale");
    EVACLIP_CHECK(it != m.end(), "resume: the checkpoint has no loss-scale state (written by another --precision?)");
    std::istringstream is(it->second);
    std::string v;
    is >> v >> s.good_steps >> s.overflows_since_growth;
    s.value = std::strtod(v.c_str(), nullptr);
  }
}

// The largest lr among a tower's groups (its head's), for the log.
inline double groups_lr(const std::vector<ParamGroup>& groups, const std::string& tower, double factor) {
  double lr = 0;
  for (const auto& g : groups)
    if (g.name.rfind(tower + ".", 0) == 0) lr = std::max(lr, g.base_lr * g.lr_scale * factor);
  return lr;
}

inline std::int64_t meta_int(const Metadata& m, const char* key) {
  const auto it = m.find(key);
  EVACLIP_CHECK(it != m.end(), "resume: the checkpoint's metadata has no \"", key, "\"");
  return std::stoll(it->second);
}

template <class P, class Block>
TrainResult run(const TrainOptions& o, nn::ModelConfig cfg) {
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

  auto opt = make_optimizer(o.optimizer, make_param_groups(params, group_settings(o, cfg.clip)),
                            OptimizerSettings{o.beta1, o.beta2, o.eps});
  typename P::loss_scale_t scaler;
  if constexpr (std::is_same_v<typename P::loss_scale_t, DynamicLossScale>) scaler.value = std::ldexp(1.0, o.initial_scale_power);
  Rng rng(o.seed);  // patch dropout and drop path
  std::int64_t step = 0;
  data::LoaderPosition pos;
  if (!o.resume.empty()) {
    const std::string path = o.resume == "latest" ? find_latest_checkpoint(o.checkpoint_dir()) : o.resume;
    EVACLIP_CHECK(!path.empty(), "--resume latest: no checkpoint in ", o.checkpoint_dir());
    const Metadata meta = load_checkpoint(path, params, *opt);
    step = meta_int(meta, "step");
    pos = {meta_int(meta, "data_epoch"), meta_int(meta, "data_sample")};
    rng.set_state(meta.at("rng"));
    load_scaler(scaler, meta);
    if (!o.quiet) std::fprintf(stderr, "resumed from %s at step %lld\n", path.c_str(), static_cast<long long>(step));
  }

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size, lo.workers = o.workers, lo.seed = o.seed;
  lo.image_size = int(cfg.clip.vision.image_size), lo.context_length = int(cfg.clip.text.context_length);
  lo.csv_img_key = o.csv_img_key, lo.csv_caption_key = o.csv_caption_key, lo.csv_separator = o.csv_separator;
  const text::Tokenizer tok;
  data::Loader loader(o.train_data, tok, lo, pos);
  const std::int64_t epoch_samples = o.train_num_samples > 0 ? o.train_num_samples : loader.samples_per_epoch();
  const std::int64_t steps_per_epoch = epoch_samples / o.batch_size;
  EVACLIP_CHECK(steps_per_epoch > 0, o.train_data, ": ", epoch_samples, " samples make no batch of ", o.batch_size);
  const std::int64_t total = o.steps > 0 ? o.steps : o.epochs * steps_per_epoch;
  const std::int64_t end = o.stop_at > 0 ? std::min(o.stop_at, total) : total;
  EVACLIP_CHECK(step <= total, "resume: the checkpoint is at step ", step, ", past this run's ", total, " steps");

  std::filesystem::create_directories(o.run_dir());
  TrainLog log(o.log_path(), step);
  const Progress progress(total, step, o.batch_size, o.quiet);
  TrainResult res;
  res.total_steps = total, res.log = log.path();
  const float ls_max = float(std::log(100.0));
  std::vector<Var> vars;
  for (const auto& p : params) vars.push_back(p.var);

  auto checkpoint = [&] {
    Metadata meta{{"step", std::to_string(step)},
                  {"data_epoch", std::to_string(loader.position().epoch)},
                  {"data_sample", std::to_string(loader.position().sample)},
                  {"rng", rng.state()},
                  {"precision", P::name},
                  {"model", o.model}};
    save_scaler(scaler, meta);
    res.checkpoint = save_checkpoint(o.checkpoint_dir(), params, *opt, meta).model;
  };

  while (step < end) {
    const data::Batch batch = loader.next();
    const double factor = warmup_cosine(step, o.warmup, total);
    Tape<P> tape;
    const auto out = model.forward(tape, Var(batch.images.to(P::act_dtype)), batch.ids, &rng);
    const double scale = scaler.scale();
    tape.backward(out.loss, scale);
    bool found_inf = scale != 1.0 && unscale_grads(vars, scale);
    const double norm = clip_grad_norm(opt->groups(), o.grad_clip);
    found_inf = found_inf || !std::isfinite(norm);
    const bool applied = scaler.update(found_inf);
    if (applied) {
      opt->step(factor);
      opt->clamp(model.logit_scale, 0.0, ls_max);  // after every step (spec §4), master copy included
    } else {
      ++res.skipped_steps;
    }
    for (const Var& v : vars) v.zero_grad();
    ++step;

    res.loss = out.loss.value().item();
    log.write({{"step", step},
               {"epoch", batch.epoch},
               {"loss", res.loss},
               {"lr_visual", groups_lr(opt->groups(), "visual", factor)},
               {"lr_text", groups_lr(opt->groups(), "text", factor)},
               {"lr_other", groups_lr(opt->groups(), "other", factor)},
               {"grad_norm", norm},
               {"logit_scale", std::exp(model.logit_scale.value().item())},
               {"loss_scale", scale},
               {"step_skipped", !applied},
               {"samples_per_s", progress.samples_per_s(step)},
               {"elapsed_s", progress.elapsed_s()},
               {"eta_s", progress.eta_s(step)},
               {"data_skipped", loader.skipped()}});
    progress.update(step, res.loss, factor * (o.visual_lr >= 0 ? o.visual_lr : o.lr));
    const bool epoch_end = step % steps_per_epoch == 0;
    if ((o.save_steps > 0 && step % o.save_steps == 0) ||
        (epoch_end && o.save_frequency > 0 && (step / steps_per_epoch) % o.save_frequency == 0) || step == end)
      checkpoint();
  }
  res.step = step;
  res.seconds = progress.elapsed_s();
  res.samples_per_s = progress.samples_per_s(step);
  res.skipped_samples = loader.skipped();
  return res;
}

}  // namespace detail

// Runs (or resumes) a training run as the options say; returns where it ended.
inline TrainResult train(const TrainOptions& o) {
  EVACLIP_CHECK(o.device == "cpu", "--device ", o.device, ": not built yet: CUDA backend (issue 7)");
  EVACLIP_CHECK(!o.train_data.empty(), "--train-data is required");
  EVACLIP_CHECK(o.batch_size > 0 && (o.steps > 0 || o.epochs > 0), "--batch-size and --epochs or --steps must be positive");
  EVACLIP_CHECK(o.threads >= 0, "--threads ", o.threads, " must be 0 (OpenMP's default) or positive");
#ifdef _OPENMP
  if (o.threads > 0) omp_set_num_threads(o.threads);  // also OpenBLAS's: its OpenMP build asks OpenMP
#endif
  const nn::ModelConfig cfg = resolve_model(o.model);
  return nn::with_vision_block(cfg.family, [&]<class Block>(Block*) {
    if (o.precision == "fp32") return detail::run<fp32, Block>(o, cfg);
    if (o.precision == "bf16") return detail::run<bf16_mixed, Block>(o, cfg);
    if (o.precision == "fp16") return detail::run<fp16_mixed, Block>(o, cfg);
    fail("--precision ", o.precision, ": expected fp32, bf16 or fp16");
  });
}

}  // namespace evaclip::train
