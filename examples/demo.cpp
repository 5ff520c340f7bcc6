// demo.cpp — evaclip-demo: trains a tiny EVA02-style CLIP on synthetic shapes, then classifies zero-shot.
//
// The end-to-end program of the foundation: every op of the library in one forward/backward pass. The
// image tower is an EVA02 block stack (2D RoPE, sub-LN, SwiGLU with its inner LayerNorm), the text tower
// a causal CLIP transformer pooled at the end-of-text token, and the loss the symmetric InfoNCE with a
// learned temperature. Data: coloured shapes on noisy backgrounds and template captions; a word-level
// toy vocabulary stands in for the BPE tokenizer. Held-out images are then classified from prompts alone.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <numbers>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "evaclip/evaclip.hpp"
#include "evaclip/nn/rope_table.hpp"

using namespace evaclip;
using P = fp32;
using TapeT = Tape<P>;

namespace {

// ---------------- synthetic data ----------------
const std::vector<std::string> kColors = {"red", "green", "blue"};
const std::vector<std::string> kShapes = {"circle", "square", "triangle", "cross"};
const std::vector<std::array<float, 3>> kRgb = {{0.9f, 0.15f, 0.1f}, {0.1f, 0.8f, 0.2f}, {0.15f, 0.25f, 0.95f}};
const std::vector<std::string> kTemplates = {"a photo of a {c} {s}", "a {c} {s}", "a picture of the {c} {s}",
                                             "a drawing of a {c} {s}"};
constexpr int kImage = 32, kPatch = 8, kContext = 8;

int num_classes() { return int(kColors.size() * kShapes.size()); }

// Renders class k into img (3, S, S): a jittered colour shape at a random place and size on textured noise.
void render(int k, Rng& rng, float* img) {
  const int color = k / int(kShapes.size()), shape = k % int(kShapes.size());
  const float cx = float(rng.uniform(10, 22)), cy = float(rng.uniform(10, 22)), r = float(rng.uniform(5, 9));
  const float base = float(rng.uniform(0.3, 0.7));
  for (int y = 0; y < kImage; ++y)
    for (int x = 0; x < kImage; ++x) {
      const float dx = float(x) - cx, dy = float(y) - cy;
      bool in = false;
      switch (shape) {
        case 0: in = dx * dx + dy * dy <= r * r; break;
        case 1: in = std::abs(dx) <= r * 0.8f && std::abs(dy) <= r * 0.8f; break;
        case 2: in = dy <= r * 0.8f && dy >= -r && std::abs(dx) <= (dy + r) * 0.55f; break;
        case 3: in = (std::abs(dx) <= r * 0.3f && std::abs(dy) <= r) || (std::abs(dy) <= r * 0.3f && std::abs(dx) <= r); break;
      }
      for (int c = 0; c < 3; ++c) {
        const float noise = float(rng.uniform(-0.15, 0.15));
        const float v = in ? kRgb[std::size_t(color)][std::size_t(c)] + noise * 0.5f : base + noise;
        img[(c * kImage + y) * kImage + x] = (v - 0.45f) / 0.27f;  // roughly CLIP-normalised
      }
    }
}

// Word-level toy tokenizer: 0 = pad, words from 1, then <start_of_text> and <end_of_text> as the two
// largest ids so that EOT pooling by argmax(ids) works as in CLIP.
struct Vocab {
  std::vector<std::string> words;
  std::int64_t id(const std::string& w) {
    for (std::size_t i = 0; i < words.size(); ++i)
      if (words[i] == w) return std::int64_t(i) + 1;
    words.push_back(w);
    return std::int64_t(words.size());
  }
  std::int64_t size() const { return 64; }  // fixed table size; ids < 62 for words
  std::int64_t sot() const { return 62; }
  std::int64_t eot() const { return 63; }
  void encode(const std::string& text, std::int64_t* out) {
    int n = 0;
    out[n++] = sot();
    std::size_t p = 0;
    while (p < text.size()) {
      const std::size_t q = text.find(' ', p);
      const std::string w = text.substr(p, q == std::string::npos ? std::string::npos : q - p);
      if (n < kContext - 1) out[n++] = id(w);
      p = q == std::string::npos ? text.size() : q + 1;
    }
    out[n++] = eot();
    while (n < kContext) out[n++] = 0;
  }
};

std::string caption(int k, std::size_t tmpl) {
  std::string s = kTemplates[tmpl];
  s.replace(s.find("{c}"), 3, kColors[std::size_t(k) / kShapes.size()]);
  s.replace(s.find("{s}"), 3, kShapes[std::size_t(k) % kShapes.size()]);
  return s;
}

// ---------------- the model ----------------
struct Params {
  std::vector<std::pair<std::string, Var>> all;
  Var add(const std::string& name, Shape s, Rng& rng, double std_or_fill, bool fill = false) {
    Tensor t = fill ? Tensor::full(s, DType::f32, std_or_fill) : Tensor::randn(s, DType::f32, rng, std_or_fill);
    Var v = Var::parameter(t);
    all.emplace_back(name, v);
    return v;
  }
};

struct Linear {
  Var w, b;
  Linear(Params& p, const std::string& n, std::int64_t in, std::int64_t out, Rng& rng, bool bias = true)
      : w(p.add(n + ".weight", {out, in}, rng, 1.0 / std::sqrt(double(in)))),
        b(bias ? p.add(n + ".bias", {out}, rng, 0.0, true) : Var()) {}
  Var operator()(TapeT& t, const Var& x) const { return linear(t, x, w, b); }
};

struct Norm {
  Var w, b;
  Norm(Params& p, const std::string& n, std::int64_t d, Rng& rng)
      : w(p.add(n + ".weight", {d}, rng, 1.0, true)), b(p.add(n + ".bias", {d}, rng, 0.0, true)) {}
  Var operator()(TapeT& t, const Var& x, double eps) const { return layernorm(t, x, w, b, eps); }
};

// (B, T, D) -> (B, H, T, hd)
Var split_heads(TapeT& t, const Var& x, std::int64_t heads) {
  const auto& s = x.shape();
  return permute(t, reshape(t, x, {s[0], s[1], heads, s[2] / heads}), {0, 2, 1, 3});
}
// (B, H, T, hd) -> (B, T, D)
Var merge_heads(TapeT& t, const Var& x) {
  const auto& s = x.shape();
  return reshape(t, permute(t, x, {0, 2, 1, 3}), {s[0], s[2], s[1] * s[3]});
}

// EVA02 block: x + proj(subLN(attn(rope(q), rope(k), v))), then x + w3(ffnLN(silu(w1 h) * w2 h)).
struct Eva02Block {
  Norm norm1, norm2, inner_attn_ln, ffn_ln;
  Linear q, k, v, proj, w1, w2, w3;
  std::int64_t heads;
  Eva02Block(Params& p, const std::string& n, std::int64_t d, std::int64_t hidden, std::int64_t h, Rng& rng)
      : norm1(p, n + ".norm1", d, rng), norm2(p, n + ".norm2", d, rng), inner_attn_ln(p, n + ".attn.inner_attn_ln", d, rng),
        ffn_ln(p, n + ".mlp.ffn_ln", hidden, rng), q(p, n + ".attn.q", d, d, rng), k(p, n + ".attn.k", d, d, rng, false),
        v(p, n + ".attn.v", d, d, rng), proj(p, n + ".attn.proj", d, d, rng), w1(p, n + ".mlp.w1", d, hidden, rng),
        w2(p, n + ".mlp.w2", d, hidden, rng), w3(p, n + ".mlp.w3", hidden, d, rng), heads(h) {}
  Var operator()(TapeT& t, const Var& x, const RopeTables& rope) const {
    const Var h = norm1(t, x, 1e-6);
    const Var qh = rope2d(t, split_heads(t, q(t, h), heads), rope.cos, rope.sin, 1);
    const Var kh = rope2d(t, split_heads(t, k(t, h), heads), rope.cos, rope.sin, 1);
    const Var a = attention(t, qh, kh, split_heads(t, v(t, h), heads), false);
    const Var x1 = add(t, x, proj(t, inner_attn_ln(t, merge_heads(t, a), 1e-6)));
    const Var h2 = norm2(t, x1, 1e-6);
    return add(t, x1, w3(t, ffn_ln(t, swiglu(t, w1(t, h2), w2(t, h2)), 1e-6)));
  }
};

// CLIP text block: x + out_proj(causal attn(LN x)), then x + c_proj(gelu(c_fc(LN x))).
struct TextBlock {
  Norm ln_1, ln_2;
  Linear in_proj, out_proj, c_fc, c_proj;
  std::int64_t heads, width;
  TextBlock(Params& p, const std::string& n, std::int64_t d, std::int64_t h, Rng& rng)
      : ln_1(p, n + ".ln_1", d, rng), ln_2(p, n + ".ln_2", d, rng), in_proj(p, n + ".attn.in_proj", d, 3 * d, rng),
        out_proj(p, n + ".attn.out_proj", d, d, rng), c_fc(p, n + ".mlp.c_fc", d, 4 * d, rng),
        c_proj(p, n + ".mlp.c_proj", 4 * d, d, rng), heads(h), width(d) {}
  Var operator()(TapeT& t, const Var& x) const {
    const Var qkv = in_proj(t, ln_1(t, x, 1e-5));  // (B, T, 3D)
    auto part = [&](int i) { return split_heads(t, slice(t, qkv, 2, i * width, (i + 1) * width), heads); };
    const Var x1 = add(t, x, out_proj(t, merge_heads(t, attention(t, part(0), part(1), part(2), true))));
    return add(t, x1, c_proj(t, gelu(t, c_fc(t, ln_2(t, x1, 1e-5)))));
  }
};

struct TinyClip {
  static constexpr std::int64_t D = 64, E = 32, Heads = 4, Grid = kImage / kPatch;
  Params p;
  Rng init{7};
  Var patch_w = p.add("visual.patch_embed.proj.weight", {D, 3, kPatch, kPatch}, init, 0.02);
  Var patch_b = p.add("visual.patch_embed.proj.bias", {D}, init, 0.0, true);
  Var cls = p.add("visual.cls_token", {1, 1, D}, init, 0.02);
  Var pos = p.add("visual.pos_embed", {1, Grid * Grid + 1, D}, init, 0.02);
  std::vector<Eva02Block> vblocks{Eva02Block(p, "visual.blocks.0", D, 170, Heads, init),
                                  Eva02Block(p, "visual.blocks.1", D, 170, Heads, init)};
  Norm vnorm{p, "visual.norm", D, init};
  Linear head{p, "visual.head", D, E, init};
  Var tok = p.add("token_embedding.weight", {64, D}, init, 0.02);
  Var tpos = p.add("positional_embedding", {kContext, D}, init, 0.01);
  std::vector<TextBlock> tblocks{TextBlock(p, "transformer.resblocks.0", D, Heads, init)};
  Norm tnorm{p, "ln_final", D, init};
  Var text_proj = p.add("text_projection", {D, E}, init, 1.0 / 8.0);
  Var logit_scale = p.add("logit_scale", {1}, init, std::log(1 / 0.07), true);
  RopeTables rope = rope2d_tables(Grid, D / Heads);
  bool grad_checkpointing = true;

  Var encode_image(TapeT& t, const Var& images) const {  // (B, 3, S, S) -> (B, E)
    const std::int64_t B = images.shape()[0];
    Var x = patch_embed(t, images, patch_w, patch_b, kPatch);           // (B, N, D)
    x = add(t, concat(t, {expand_batch(t, cls, B), x}, 1), pos);        // (B, N+1, D)
    for (const auto& blk : vblocks) {
      auto f = [&blk, this](TapeT& tt, const Var& v) { return blk(tt, v, rope); };
      x = grad_checkpointing ? checkpoint(t, x, f) : f(t, x);
    }
    x = reshape(t, slice(t, vnorm(t, x, 1e-6), 1, 0, 1), {B, D});      // CLS token
    return head(t, x);
  }
  Var encode_text(TapeT& t, const Tensor& ids) const {  // (B, L) -> (B, E)
    const std::int64_t B = ids.shape()[0];
    Var x = add(t, embedding(t, tok, ids), tpos);  // (B, L, D)
    for (const auto& blk : tblocks) x = blk(t, x);
    Tensor eot = Tensor::empty({B, 1}, DType::i64);  // argmax(ids) per row: the end-of-text position
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t* r = ids.data<std::int64_t>() + b * kContext;
      eot.data<std::int64_t>()[b] = std::max_element(r, r + kContext) - r;
    }
    x = reshape(t, gather_rows(t, tnorm(t, x, 1e-5), eot), {B, D});
    return matmul(t, x, text_proj, false, false);  // x · P
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"evaclip-demo: train a tiny EVA02-style CLIP on synthetic shapes, then zero-shot classify"};
  int steps = 800, batch = 48, eval_per_class = 20;
  double lr = 3e-3;
  std::string out_dir = "out/demo";
  app.add_option("--steps", steps, "training steps")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "peak learning rate (AdamW, warm-up then cosine)");
  app.add_option("--eval-per-class", eval_per_class, "held-out images per class")->check(CLI::PositiveNumber);
  app.add_option("--out", out_dir, "output folder (training log)");
  CLI11_PARSE(app, argc, argv);

  try {
    TinyClip model;
    Vocab vocab;
    Rng data_rng(4096);
    std::filesystem::create_directories(out_dir);
    const std::string log_path = out_dir + "/train_log.jsonl";
    std::ofstream log(log_path + ".tmp");

    // AdamW state (the training issue brings LAMB and the full recipe; this is the minimal loop).
    std::vector<std::vector<double>> m(model.p.all.size()), v(model.p.all.size());
    const double b1 = 0.9, b2 = 0.98, eps = 1e-6, wd = 0.05;
    const int warmup = steps / 10;
    std::printf("evaclip-demo: %d classes, %zu parameters tensors, %d steps of batch %d\n", num_classes(),
                model.p.all.size(), steps, batch);
    const auto t0 = std::chrono::steady_clock::now();
    for (int step = 0; step < steps; ++step) {
      Tensor images = Tensor::empty({batch, 3, kImage, kImage}, DType::f32);
      Tensor ids = Tensor::empty({batch, kContext}, DType::i64), labels = Tensor::empty({batch}, DType::i64);
      for (int i = 0; i < batch; ++i) {
        const int k = int(data_rng.next_u64() % std::uint64_t(num_classes()));
        render(k, data_rng, images.data<float>() + i * 3 * kImage * kImage);
        vocab.encode(caption(k, data_rng.next_u64() % kTemplates.size()), ids.data<std::int64_t>() + i * kContext);
        labels.data<std::int64_t>()[i] = i;
      }
      TapeT tape;
      const Var fi = l2_normalize(tape, model.encode_image(tape, Var(images)));
      const Var ft = l2_normalize(tape, model.encode_text(tape, ids));
      const Var logits = scale(tape, matmul(tape, fi, ft, false, true), exp_clamp(tape, model.logit_scale, 0.0, std::log(100.0)));
      const Var loss = scale(tape, add(tape, cross_entropy(tape, logits, labels),
                                       cross_entropy(tape, permute(tape, logits, {1, 0}), labels)), 0.5);
      tape.backward(loss);

      const double lr_t = step < warmup ? lr * (step + 1) / warmup
                                        : 0.5 * lr * (1 + std::cos(std::numbers::pi * (step - warmup) / double(steps - warmup)));
      for (std::size_t i = 0; i < model.p.all.size(); ++i) {
        const Var& w = model.p.all[i].second;
        float* wp = w.value().data<float>();
        const auto g = w.grad().to_vector();
        if (m[i].empty()) m[i].assign(g.size(), 0.0), v[i].assign(g.size(), 0.0);
        const bool decay = w.shape().size() >= 2;
        const double c1 = 1 - std::pow(b1, step + 1), c2 = 1 - std::pow(b2, step + 1);
        for (std::size_t j = 0; j < g.size(); ++j) {
          m[i][j] = b1 * m[i][j] + (1 - b1) * g[j];
          v[i][j] = b2 * v[i][j] + (1 - b2) * g[j] * g[j];
          const double upd = (m[i][j] / c1) / (std::sqrt(v[i][j] / c2) + eps) + (decay ? wd * wp[j] : 0.0);
          wp[j] = float(wp[j] - lr_t * upd);
        }
        w.clear_grad();
      }
      float* ls = model.logit_scale.value().data<float>();
      *ls = std::clamp(*ls, 0.0f, float(std::log(100.0)));

      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double sps = (step + 1) * batch / secs, eta = (steps - step - 1) * batch / sps;
      log << "{\"step\": " << step + 1 << ", \"loss\": " << loss.value().item() << ", \"lr\": " << lr_t
          << ", \"logit_scale\": " << std::exp(*ls) << ", \"samples_per_s\": " << sps << "}\n";
      if ((step + 1) % 10 == 0 || step + 1 == steps)
        std::printf("\rstep %4d/%d  loss %.4f  lr %.2e  %.0f samples/s  ETA %3.0fs", step + 1, steps,
                    loss.value().item(), lr_t, sps, eta),
            std::fflush(stdout);
    }
    std::printf("\n");
    log.close();
    std::filesystem::rename(log_path + ".tmp", log_path);

    // Zero-shot: class embedding = renormalised mean of the normalised prompt embeddings.
    TapeT tape;
    NoGrad no_grad(tape);
    model.grad_checkpointing = false;
    const int C = num_classes(), T = int(kTemplates.size());
    Tensor prompts = Tensor::empty({C * T, kContext}, DType::i64);
    for (int k = 0; k < C; ++k)
      for (int j = 0; j < T; ++j) vocab.encode(caption(k, std::size_t(j)), prompts.data<std::int64_t>() + (k * T + j) * kContext);
    const auto pe = l2_normalize(tape, model.encode_text(tape, prompts)).value().to_vector();
    Tensor classifier = Tensor::zeros({C, TinyClip::E}, DType::f32);
    for (int k = 0; k < C; ++k)
      for (int j = 0; j < T; ++j)
        for (int e = 0; e < TinyClip::E; ++e)
          classifier.data<float>()[k * TinyClip::E + e] += float(pe[std::size_t((k * T + j) * TinyClip::E + e)] / T);
    const Var cls_emb = l2_normalize(tape, Var(classifier));

    Rng eval_rng(12345);  // a different stream from training: held-out images
    const int n = C * eval_per_class;
    Tensor images = Tensor::empty({n, 3, kImage, kImage}, DType::f32);
    std::vector<int> truth(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) render(truth[std::size_t(i)] = i % C, eval_rng, images.data<float>() + i * 3 * kImage * kImage);
    const Var scores = matmul(tape, l2_normalize(tape, model.encode_image(tape, Var(images))), cls_emb, false, true);
    const auto s = scores.value().to_vector();
    int correct = 0;
    for (int i = 0; i < n; ++i) {
      const auto row = s.begin() + i * C;
      correct += int(std::max_element(row, row + C) - row) == truth[std::size_t(i)];
    }
    std::printf("training log: %s\n", log_path.c_str());
    std::printf("zero-shot top-1: %.1f%% (chance %.1f%%)\n", 100.0 * correct / n, 100.0 / C);
    return 0;
  } catch (const evaclip::Error& e) {
    std::fprintf(stderr, "evaclip-demo: %s\n", e.what());
    return 1;
  }
}
