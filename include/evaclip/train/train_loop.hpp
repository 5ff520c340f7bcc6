// train_loop.hpp — defines TrainableModel<P> (what the training loop needs of a model, whatever its vision
// block) and train_loop<P>(): the EVA-CLIP training loop in precision P, behind train::run (trainer.hpp).
//
// One step (docs/model-spec.md §4–5): next batch -> lr factor (warm-up, then cosine) -> forward in the policy's
// precision with patch dropout and drop path drawn from the run's Rng -> backward of the loss times the loss scale ->
// unscale and look for inf/NaN -> global gradient-norm clip -> the loss scaler decides (an overflow skips
// the step) -> LAMB/AdamW step -> logit_scale clamped to [0, ln 100] -> one JSONL record.
// Exact resume: a checkpoint holds the weights, the optimiser state (fp32 masters included), the step, the
// data position, the Rng and the loss-scale state, so k steps + resume + (N - k) steps equal N steps bit for
// bit on the CPU.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "evaclip/autograd/tape.hpp"
#include "evaclip/data/loader.hpp"
#include "evaclip/nn/config.hpp"
#include "evaclip/nn/params.hpp"
#include "evaclip/precision/unscale.hpp"
#include "evaclip/train/grad_clip.hpp"
#include "evaclip/train/optimizer.hpp"
#include "evaclip/train/param_groups.hpp"
#include "evaclip/train/schedule.hpp"
#include "evaclip/train/train_log.hpp"
#include "evaclip/train/train_options.hpp"
#include "evaclip/train/train_state.hpp"

namespace evaclip::train {

// A model as the loop sees it. The block type stays behind `loss`, so the loop is compiled once per
// precision, not once per block (a program may compile it in a translation unit of its own).
template <class P>
struct TrainableModel {
  nn::ParamList params;  // every parameter, under its checkpoint key
  Var logit_scale;       // clamped to [0, ln 100] after each step
  // The training forward's loss on a batch; patch dropout and drop path draw from rng.
  std::function<Var(Tape<P>& tape, const Var& images, const Tensor& ids, Rng& rng)> loss;
};

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

}  // namespace detail

// Trains m on the CPU as the options say (c: the model's dimensions; o.model, o.block and o.precision are
// not read). Not inline: see TrainableModel.
template <class P>
TrainResult train_loop(const TrainOptions& o, const nn::ClipCfg& c, const TrainableModel<P>& m) {
  auto opt = make_optimizer(o.optimizer, make_param_groups(m.params, detail::group_settings(o, c)),
                            OptimizerSettings{o.beta1, o.beta2, o.eps});
  typename P::loss_scale_t scaler;
  if constexpr (std::is_same_v<typename P::loss_scale_t, DynamicLossScale>) scaler.value = std::ldexp(1.0, o.initial_scale_power);
  Rng rng(o.seed);  // patch dropout and drop path
  std::int64_t step = 0;
  data::LoaderPosition pos;
  if (!o.resume.empty()) {
    const std::string path = o.resume == "latest" ? find_latest_checkpoint(o.checkpoint_dir()) : o.resume;
    EVACLIP_CHECK(!path.empty(), "--resume latest: no checkpoint in ", o.checkpoint_dir());
    const Metadata meta = load_checkpoint(path, m.params, *opt);
    step = detail::meta_int(meta, "step");
    pos = {detail::meta_int(meta, "data_epoch"), detail::meta_int(meta, "data_sample")};
    rng.set_state(meta.at("rng"));
    detail::load_scaler(scaler, meta);
    if (!o.quiet) std::fprintf(stderr, "resumed from %s at step %lld\n", path.c_str(), static_cast<long long>(step));
  }

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size, lo.workers = o.workers, lo.seed = o.seed;
  lo.image_size = int(c.vision.image_size), lo.context_length = int(c.text.context_length);
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
  for (const auto& p : m.params) vars.push_back(p.var);

  auto checkpoint = [&] {
    Metadata meta{{"step", std::to_string(step)},
                  {"data_epoch", std::to_string(loader.position().epoch)},
                  {"data_sample", std::to_string(loader.position().sample)},
                  {"rng", rng.state()},
                  {"precision", P::name},
                  {"model", o.model}};
    detail::save_scaler(scaler, meta);
    res.checkpoint = save_checkpoint(o.checkpoint_dir(), m.params, *opt, meta).model;
  };

  while (step < end) {
    const data::Batch batch = loader.next();
    const double factor = warmup_cosine(step, o.warmup, total);
    Tape<P> tape(Cpu{.fusion = o.fusion});
    const Var loss = m.loss(tape, Var(batch.images.to(P::act_dtype)), batch.ids, rng);
    const double scale = scaler.scale();
    tape.backward(loss, scale);
    bool found_inf = scale != 1.0 && unscale_grads(vars, scale);
    const double norm = clip_grad_norm(opt->groups(), o.grad_clip);
    found_inf = found_inf || !std::isfinite(norm);
    const bool applied = scaler.update(found_inf);
    if (applied) {
      opt->step(factor);
      opt->clamp(m.logit_scale, 0.0, ls_max);  // after every step (docs/model-spec.md §4), master too
    } else {
      ++res.skipped_steps;
    }
    for (const Var& v : vars) v.zero_grad();
    ++step;

    res.loss = loss.value().item();
    log.write({{"step", step},
               {"epoch", batch.epoch},
               {"loss", res.loss},
               {"lr_visual", detail::groups_lr(opt->groups(), "visual", factor)},
               {"lr_text", detail::groups_lr(opt->groups(), "text", factor)},
               {"lr_other", detail::groups_lr(opt->groups(), "other", factor)},
               {"grad_norm", norm},
               {"logit_scale", std::exp(m.logit_scale.value().item())},
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

}  // namespace evaclip::train
