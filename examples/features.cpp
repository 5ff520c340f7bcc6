// features.cpp — evaclip-features: a model's outputs, in two modes.
//
// Embeddings, for downstream work: image files and/or lines of text to L2-normalised embeddings.
//   evaclip-features (--config FILE.json | --model NAME) --weights W.safetensors [--images PATH...]
//                    [--texts FILE] --out OUT.safetensors|OUT.npy [--batch-size 64] [--vocab FILE]
//                    [--precision fp32|fp64|bf16|fp16] [--device cpu|cuda] [--block NAME] [--unfused LIST]
// --images takes image files, folders (every image below, in sorted order) and list files (one path a
// line); images get the reference eval transform. --texts: one text a line. OUT.safetensors holds
// image_embeddings (N, E) and/or text_embeddings (M, E), float32, rows in input order; OUT.npy holds the
// one matrix asked for (give only --images or only --texts).
//
// Parity: the model on ready-made inputs, writing what the official model computes.
//   evaclip-features (--config FILE.json | --model NAME) --weights W.safetensors --inputs IN.safetensors
//                    --out OUT.safetensors [--grads] [--precision ...] [--device cpu|cuda]
// IN: pixel_values f32 (N, 3, H, W) and/or input_ids i64|i32 (M, context). OUT (float32): image_features
// (N, E) and text_features (M, E) before L2 normalisation, logit_scale () = exp(parameter),
// logits_per_image (N, M) with both inputs, loss () when N == M, and with --grads grad.<key> (d loss /
// d parameter) for every parameter, <key> as in the weights file.
// Errors: one line on stderr, exit 1.
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "evaclip/eval/datasets.hpp"
#include "evaclip/eval/encoder.hpp"
#include "evaclip/eval/similarity.hpp"
#include "evaclip/io/npy.hpp"
#include "cuda_backend.hpp"
#include "encoder_instances.hpp"  // generated: the CPU encoders this build compiled (CMakeLists.txt)
#include "model_options.hpp"
#include "parity.hpp"

using namespace evaclip;
namespace built = evaclip::examples::built_encoder;
using namespace evaclip::nn;

namespace {

std::map<std::string, Tensor> run_parity(const ModelConfig& cfg, const ModelOptions& mo, const std::string& inputs,
                                         bool grads) {
  if (mo.device_kind() == Device::cpu)
    return examples::run_parity<Cpu, built::Blocks, built::Precisions>(cfg, mo.weights, mo.precision, inputs, grads,
                                                                      mo.fusion());
#if defined(EVACLIP_WITH_CUDA)
  return examples::run_parity_cuda(cfg, mo.weights, mo.precision, inputs, grads, mo.fusion());
#else
  fail("--device cuda: this program was built without evaclip's CUDA backend (docs/cuda.md)");
#endif
}

void run_embeddings(const ModelConfig& cfg, const ModelOptions& mo, const std::vector<std::string>& image_args,
                    const std::string& texts_file, const std::string& vocab, std::int64_t batch, bool quiet,
                    const std::string& out) {
  const bool npy = std::filesystem::path(out).extension() == ".npy";
  EVACLIP_CHECK(!npy || image_args.empty() || texts_file.empty(), "--out ", out,
                ": a .npy file holds one matrix; give only --images or only --texts, or write .safetensors");
  // Inputs first: a bad path fails before the model loads.
  const std::vector<std::string> paths =
      image_args.empty() ? std::vector<std::string>{} : eval::list_images(image_args);
  const std::vector<std::string> texts =
      texts_file.empty() ? std::vector<std::string>{} : eval::read_lines(texts_file, "--texts");
  EVACLIP_CHECK(texts_file.empty() || !texts.empty(), "--texts ", texts_file, ": no lines");
  std::optional<text::Tokenizer> tokenizer;
  if (!texts.empty()) tokenizer.emplace(vocab);
  const auto encoder = eval::make_encoder<built::Blocks, built::Precisions>(
      cfg, mo.weights, mo.precision, mo.device_kind(), mo.fusion());
  std::map<std::string, Tensor> result;
  if (!paths.empty())
    result["image_embeddings"] = eval::l2_normalize_rows(eval::encode_images(*encoder, paths, batch, !quiet));
  if (!texts.empty())
    result["text_embeddings"] = eval::l2_normalize_rows(eval::encode_texts(*encoder, *tokenizer, texts, batch, !quiet));
  if (npy) save_npy(out, result.begin()->second);
  else save_safetensors(out, result);
  for (const auto& [key, t] : result) std::printf("%s %s\n", key.c_str(), to_string(t.shape()).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Run an EVA-CLIP model: L2-normalised embeddings of images and texts, or (--inputs) features, "
      "logits, loss and gradients on safetensors inputs"};
  ModelOptions mo;
  mo.add_to(app);
  std::string inputs, out, texts, vocab;
  std::vector<std::string> images;
  std::int64_t batch = 64;
  bool grads = false, quiet = false;
  auto* by_inputs = app.add_option("--inputs", inputs, "parity mode: pixel_values and/or input_ids (.safetensors)");
  app.add_option("--images", images, "image files, folders or list files (one path a line)")->excludes(by_inputs);
  app.add_option("--texts", texts, "a text file, one text a line")->excludes(by_inputs);
  app.add_option("--out", out, "output file: .safetensors (float32), or .npy for embeddings of one kind")->required();
  app.add_flag("--grads", grads, "parity mode: also write grad.<key> for every parameter (needs N == M)")
      ->needs(by_inputs);
  app.add_option("--batch-size", batch, "images or texts per forward pass")->check(CLI::PositiveNumber);
  app.add_option("--vocab", vocab, "BPE vocabulary (default: the one tools/fetch_assets.py caches)");
  app.add_flag("--quiet", quiet, "no progress bar");
  CLI11_PARSE(app, argc, argv);
  try {
    const ModelConfig cfg = mo.resolve();
    if (!inputs.empty()) {
      save_safetensors(out, run_parity(cfg, mo, inputs, grads));
    } else {
      EVACLIP_CHECK(!images.empty() || !texts.empty(), "give --images and/or --texts, or --inputs");
      run_embeddings(cfg, mo, images, texts, vocab, batch, quiet, out);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-features: %s\n", e.what());
    return 1;
  }
  return 0;
}
