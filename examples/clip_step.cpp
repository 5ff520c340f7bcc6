// clip_step.cpp — evaclip-clip-step: one EVA-CLIP training step of a tiny EVA02 CLIP, written out stage by
// stage with every shape printed. No options, no files: the reading companion of docs/walkthrough.md.
//
// The stages are the ones train/trainer.hpp runs each step; here the vision tower's blocks and the CLIP
// loss are spelled out instead of called through Clip::forward, and the program checks both give one loss.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "evaclip/data/synthetic_shapes.hpp"
#include "evaclip/image/transform.hpp"
#include "evaclip/nn/clip.hpp"
#include "evaclip/precision/unscale.hpp"
#include "evaclip/text/tokenizer.hpp"
#include "evaclip/train/grad_clip.hpp"
#include "evaclip/train/optimizer.hpp"
#include "evaclip/train/schedule.hpp"

using namespace evaclip;

namespace {

std::string dtype_of(const Tensor& t) { return std::string(dtype_name(t.dtype())); }

void show(const std::string& stage, const Var& v) {
  std::printf("  %-30s %-14s %s\n", stage.c_str(), to_string(v.shape()).c_str(), dtype_of(v.value()).c_str());
}

}  // namespace

int main() {
  try {
    // bf16 weights and activations with fp32 master weights (E/14+'s precision; emulated on the CPU).
    using P = bf16_mixed;
    nn::ClipCfg cfg;  // EVA02-CLIP-B-16's shape of model, shrunk
    cfg.embed_dim = 16;
    cfg.vision.image_size = 32, cfg.vision.patch_size = 8, cfg.vision.width = 32, cfg.vision.layers = 2;
    cfg.vision.head_width = 16, cfg.vision.mlp_ratio = 2.6667, cfg.vision.pt_hw_seq_len = 4;
    cfg.text.context_length = 16, cfg.text.width = 32, cfg.text.heads = 2, cfg.text.layers = 2;
    nn::ParamInit init = nn::ParamInit::for_policy<P>(0);
    const nn::Clip<nn::Eva02Block> model(init, cfg);  // 2D RoPE, sub-LN, SwiGLU
    const nn::ParamList params = model.params();

    // 1. A batch: four rendered images through the CLIP train transform, four captions through the tokenizer.
    const std::int64_t batch = 4, S = cfg.vision.image_size;
    Rng rng(1);
    Tensor pixels = Tensor::empty({batch, 3, S, S}, DType::f32);
    std::vector<std::string> captions;
    for (int i = 0; i < batch; ++i) {
      data::ShapeLayout layout;
      const int k = 3 * i;  // red circle, red cross, green triangle, blue square
      const image::RgbImage im = data::render_shape(k, 40, rng, &layout);  // decoded pixels (H, W, 3) uint8
      const Tensor x = image::train_transform(im, int(S), rng);            // (3, S, S) f32, normalised
      std::memcpy(pixels.data<float>() + i * x.numel(), x.data<float>(), std::size_t(x.numel()) * sizeof(float));
      captions.push_back(data::synthetic_caption(k, layout, rng));
    }
    const text::Tokenizer tok;
    const Tensor ids = tok.tokenize(captions, int(cfg.text.context_length));  // (B, L) i64, 0-padded
    std::printf("batch: images %s, ids %s; caption 0 \"%s\" -> %d tokens\n", to_string(pixels.shape()).c_str(),
                to_string(ids.shape()).c_str(), captions[0].c_str(), int(tok.encode(captions[0]).size()) + 2);

    // 2. The image tower, block by block (VisionTransformer::operator() without patch dropout or drop path).
    Tape<P> t;
    const auto& vis = model.visual;
    std::printf("image tower:\n");
    Var x = vis.embed(t, Var(pixels.to(P::act_dtype)));  // patch embed, + CLS, + pos_embed
    show("patch embed + CLS + pos_embed", x);
    const auto [cos, sin] = vis.rope_tables<P>();  // (N, hd) each: 2D RoPE angles of the patch grid
    std::printf("  %-30s %s\n", "RoPE cos/sin tables", to_string(cos.shape()).c_str());
    for (std::size_t i = 0; i < vis.blocks.size(); ++i) {
      x = vis.blocks[i](t, x, RopeRef{&cos, &sin});  // x + attn(LN x), then + SwiGLU MLP
      show("block " + std::to_string(i), x);
    }
    x = reshape(t, slice(t, vis.norm(t, x), 1, 0, 1), {batch, cfg.vision.width});  // the CLS row
    show("final norm, CLS row", x);
    const Var image_features = vis.head(t, x);
    show("head", image_features);

    // 3. The text tower: token + position embedding, causal blocks, the end-of-text row, projection.
    const Var text_features = model.text(t, ids);
    std::printf("text tower:\n");
    show("features", text_features);

    // 4. The symmetric InfoNCE loss over the batch's B x B cosine similarities.
    constexpr double inf = std::numeric_limits<double>::infinity();
    const Var fi = l2_normalize(t, image_features), ft = l2_normalize(t, text_features);
    const Var temperature = exp_clamp(t, model.logit_scale, -inf, inf);  // exp(logit_scale), ln(1/0.07) at init
    const Var logits_per_image = scale(t, matmul(t, fi, ft, false, true), temperature);
    const Var logits_per_text = scale(t, matmul(t, ft, fi, false, true), temperature);
    std::vector<std::int64_t> diagonal(static_cast<std::size_t>(batch));
    std::iota(diagonal.begin(), diagonal.end(), 0);  // image i goes with caption i
    const Tensor labels = Tensor::from({batch}, DType::i64, diagonal);
    const Var ce_image = cross_entropy(t, logits_per_image, labels);  // each image picks its caption
    const Var ce_text = cross_entropy(t, logits_per_text, labels);    // each caption picks its image
    const Var loss = scale(t, add(t, ce_image, ce_text), 0.5);
    std::printf("loss:\n");
    show("logits per image", logits_per_image);
    const double loss_before = loss.value().item();
    std::printf("  loss %.6f (uniform logits would give ln %lld = %.6f)\n", loss_before, (long long)batch,
                std::log(double(batch)));
    auto clip_loss = [&] {  // the library's forward of the same batch, no tape recorded
      Tape<P> eval;
      const NoGrad no_grad(eval);
      return model.forward(eval, Var(pixels.to(P::act_dtype)), ids).loss.value().item();
    };
    EVACLIP_CHECK(std::isfinite(loss_before) && clip_loss() == loss_before, "clip-step: the written-out loss ",
                  loss_before, " differs from Clip::forward's ", clip_loss());

    // 5. Backward of the loss times the loss scale. fp16_mixed scales (from 2^16, DynamicLossScale) so that
    // small gradients do not flush to zero, then divides it out; bf16 has fp32's range and scales by 1.
    typename P::loss_scale_t scaler;
    const double loss_scale = scaler.scale();
    t.backward(loss, loss_scale);
    std::vector<Var> vars;
    for (const auto& p : params) vars.push_back(p.var);
    const bool found_inf = loss_scale != 1.0 && unscale_grads(vars, loss_scale);  // also looks for inf/NaN
    std::printf("backward: loss scale %.0f, inf/NaN %s; patch weight grad %s %s\n", loss_scale,
                found_inf ? "found" : "none", to_string(vis.patch_weight.grad().shape()).c_str(),
                dtype_of(vis.patch_weight.grad()).c_str());

    // 6. Parameter groups (layer-wise lr decay 0.75), global norm clip at 5, one LAMB step.
    train::GroupSettings gs{.visual_lr = 1e-2, .text_lr = 1e-2, .other_lr = 1e-2, .visual_ld = 0.75, .text_ld = 0.75};
    gs.visual_layers = cfg.vision.layers, gs.text_layers = cfg.text.layers;
    auto opt = train::make_optimizer("lamb", train::make_param_groups(params, gs));
    std::printf("param groups: %zu; first %s (lr scale %.4f), last %s (lr scale %.4f)\n", opt->groups().size(),
                opt->groups().front().name.c_str(), opt->groups().front().lr_scale, opt->groups().back().name.c_str(),
                opt->groups().back().lr_scale);
    const double norm = train::clip_grad_norm(opt->groups(), 5.0);
    const bool applied = scaler.update(found_inf || !std::isfinite(norm));  // an overflow skips the step
    // Step 0 of 100 with one warm-up step: the full base lr.
    const double factor = train::warmup_cosine(0, 1, 100);
    if (applied) {
      opt->step(factor);
      opt->clamp(model.logit_scale, 0.0, std::log(100.0));  // the temperature stays at most 100
    }
    std::printf("grad norm %.3f (clipped to 5), lr factor %.3f, LAMB step %s\n", norm, factor,
                applied ? "applied" : "skipped");

    // 7. The same batch again, through Clip::forward: the loss the step has lowered.
    const double loss_after = clip_loss();
    EVACLIP_CHECK(std::isfinite(loss_after) && applied && loss_after < loss_before,
                  "clip-step: expected the step to lower the loss, got ", loss_before, " -> ", loss_after);
    std::printf("clip-step: loss %.6f -> %.6f after one LAMB step\n", loss_before, loss_after);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-clip-step: %s\n", e.what());
    return 1;
  }
  return 0;
}
