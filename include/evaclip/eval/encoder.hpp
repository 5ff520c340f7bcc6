// encoder.hpp — defines Encoder: a loaded model behind a run-time interface that turns batches of
// preprocessed images and token ids into float32 embeddings (inference, NoGrad); make_encoder, which
// picks the device, precision policy and vision block once so that callers are not templates; and
// encode_images / encode_texts, which run whole lists of files or strings through it batch by batch.
//
// The CUDA encoder needs nvcc, so this header only holds a hook for it: a program that wants
// `--device cuda` includes eval/cuda_encoder.cuh in one of its .cu files, which fills the hook.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "evaclip/autograd/tape.hpp"
#include "evaclip/eval/image_batch.hpp"
#include "evaclip/eval/progress.hpp"
#include "evaclip/nn/load_model.hpp"
#include "evaclip/text/tokenizer.hpp"

namespace evaclip::eval {

class Encoder {
 public:
  explicit Encoder(nn::ModelConfig cfg) : cfg_(std::move(cfg)) {}
  virtual ~Encoder() = default;
  // (N, 3, S, S) f32 normalised pixels -> (N, E) f32 image embeddings, before L2 normalisation.
  virtual Tensor encode_images(const Tensor& pixels) const = 0;
  // (M, L) i64 token ids -> (M, E) f32 text embeddings, before L2 normalisation.
  virtual Tensor encode_texts(const Tensor& ids) const = 0;

  int image_size() const { return int(cfg_.clip.vision.image_size); }
  int context_length() const { return int(cfg_.clip.text.context_length); }

 private:
  nn::ModelConfig cfg_;
};

namespace detail {
// The model on backend B (its run-time switches, e.g. the fusions, as given): inputs go to B's device,
// embeddings come back as host float32.
template <class P, class Block, class B = Cpu>
class ClipEncoder final : public Encoder {
 public:
  ClipEncoder(const nn::ModelConfig& cfg, nn::LoadedClip<Block> m, B backend)
      : Encoder(cfg), m_(std::move(m)), backend_(backend) {}
  Tensor encode_images(const Tensor& pixels) const override {
    Tape<P, B> tape(backend_);
    NoGrad no_grad(tape);
    const Var x(pixels.to(P::act_dtype).to(B::device));
    return m_.model.visual(tape, x).value().to(Device::cpu).to(DType::f32);
  }
  Tensor encode_texts(const Tensor& ids) const override {
    Tape<P, B> tape(backend_);
    NoGrad no_grad(tape);
    return m_.model.text(tape, ids).value().to(Device::cpu).to(DType::f32);
  }

 private:
  nn::LoadedClip<Block> m_;
  B backend_;
};

using EncoderFactory = std::unique_ptr<Encoder> (*)(const nn::ModelConfig&, const SafetensorsFile&,
                                                    const std::string& precision, Fusion fusion);
// Set by eval/cuda_encoder.cuh when a translation unit of the program includes it; null otherwise.
inline EncoderFactory& cuda_encoder_factory() {
  static EncoderFactory f = nullptr;
  return f;
}
}  // namespace detail

// The CPU encoder of one precision and block: the model of `cfg` with `weights`, its tapes' backend
// switched as `fusion` says. Not inline: a program may compile each (P, Block) in a translation unit of
// its own (examples/CMakeLists.txt) and declare it `extern template` where it dispatches.
template <class P, class Block>
std::unique_ptr<Encoder> make_cpu_encoder(const nn::ModelConfig& cfg, const SafetensorsFile& weights, Fusion fusion) {
  return std::make_unique<detail::ClipEncoder<P, Block>>(cfg, nn::load_clip<P, Block>(cfg, weights),
                                                         Cpu{.fusion = fusion});
}

// The model of `cfg` with the weights in `weights_path`, running in `precision` (fp64, fp32, bf16, fp16 on
// the CPU; fp32, bf16, fp16 on CUDA) on `device` with the fused kernels of `fusion`. On the CPU the block
// is one of Blocks and the precision one of Precisions (a program built with fewer passes its lists).
template <class Blocks = nn::CompiledBlocks, class Precisions = nn::AllPrecisions>
std::unique_ptr<Encoder> make_encoder(const nn::ModelConfig& cfg, const std::string& weights_path,
                                      const std::string& precision, Device device = Device::cpu, Fusion fusion = {}) {
  const SafetensorsFile weights(weights_path);
  if (device == Device::cuda) {
    const detail::EncoderFactory f = detail::cuda_encoder_factory();
    EVACLIP_CHECK(f, "--device cuda: this program was built without evaclip's CUDA backend (docs/cuda.md)");
    return f(cfg, weights, precision, fusion);
  }
  return nn::with_model_types<Blocks, Precisions>(
      precision, cfg.block, [&]<class P, class Block>(P, std::type_identity<Block>) -> std::unique_ptr<Encoder> {
        return make_cpu_encoder<P, Block>(cfg, weights, fusion);
      });
}

namespace detail {
// Rows [0, n) of the result of encode(begin, end) for consecutive batches, stacked: (n, E) f32.
template <class F>
Tensor encode_batched(std::int64_t n, std::int64_t batch, Progress& progress, F&& encode) {
  EVACLIP_CHECK(batch > 0, "batch size ", batch, " must be positive");
  EVACLIP_CHECK(n > 0, "nothing to encode");
  Tensor out;
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t e = std::min(n, b + batch);
    const Tensor f = encode(b, e);  // (e - b, E)
    if (!out.defined()) out = Tensor::empty({n, f.shape()[1]}, DType::f32);
    std::memcpy(out.data<float>() + b * f.shape()[1], f.data<float>(), f.nbytes());
    progress.advance(e - b);
  }
  progress.finish();
  return out;
}
}  // namespace detail

// (N, E) f32 unnormalised embeddings of image files (eval transform at the model's size).
inline Tensor encode_images(const Encoder& enc, const std::vector<std::string>& paths, std::int64_t batch,
                            bool progress = true) {
  Progress bar("images", std::int64_t(paths.size()), progress);
  return detail::encode_batched(std::int64_t(paths.size()), batch, bar, [&](std::int64_t b, std::int64_t e) {
    const std::span<const std::string> part(paths.data() + b, std::size_t(e - b));
    return enc.encode_images(load_image_batch(part, enc.image_size()));
  });
}

// (M, E) f32 unnormalised embeddings of strings, tokenised at the model's context length.
inline Tensor encode_texts(const Encoder& enc, const text::Tokenizer& tok, const std::vector<std::string>& texts,
                           std::int64_t batch, bool progress = true, const char* what = "texts") {
  Progress bar(what, std::int64_t(texts.size()), progress);
  return detail::encode_batched(std::int64_t(texts.size()), batch, bar, [&](std::int64_t b, std::int64_t e) {
    const std::vector<std::string> part(texts.begin() + b, texts.begin() + e);
    return enc.encode_texts(tok.tokenize(part, enc.context_length()));
  });
}

}  // namespace evaclip::eval
