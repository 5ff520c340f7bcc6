// retrieval.cpp — evaclip-retrieval: zero-shot image-text retrieval recall@1/5/10 in both directions, as
// docs/model-spec.md §9 defines them (e.g. Flickr30K 1K test, MSCOCO 5K val).
//
//   evaclip-retrieval (--model NAME | --config FILE.json) --weights W.safetensors --data PAIRS.csv|.tsv
//                     --out RESULT.json [--batch-size 64] [--precision fp32|fp64|bf16|fp16] [--device cpu|cuda]
//                     [--image-column filepath] [--caption-column title] [--separator C] [--vocab FILE]
//                     [--dump FILE.safetensors] [--block NAME] [--unfused LIST]
//
// PAIRS: one row per (image, caption); rows with the same image path are that image's captions (paths
// relative to the file's folder). Similarity = cosine of the L2-normalised embeddings. text_to_image R@K:
// the fraction of captions whose image is among the K most similar images; image_to_text R@K: the
// fraction of images with at least one of their captions among the K most similar captions. --dump also
// writes image_embeddings (I, E), text_embeddings (T, E), both normalised, and caption_image (T).
// Errors: one line on stderr, exit 1.
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/eval/datasets.hpp"
#include "evaclip/eval/encoder.hpp"
#include "evaclip/eval/similarity.hpp"
#include "evaclip/eval/report.hpp"
#include "encoder_instances.hpp"  // generated: the CPU encoders this build compiled (CMakeLists.txt)
#include "model_options.hpp"

using namespace evaclip;
namespace built = evaclip::examples::built_encoder;

int main(int argc, char** argv) {
  CLI::App app{"Image-text retrieval recall@K with an EVA-CLIP model"};
  ModelOptions mo;
  mo.add_to(app);
  std::string data, out, vocab, dump, image_column = "filepath", caption_column = "title", separator;
  std::int64_t batch = 64;
  bool quiet = false;
  app.add_option("--data", data, "CSV/TSV with one (image path, caption) pair per row")->required();
  app.add_option("--out", out, "result file (.json)")->required();
  app.add_option("--batch-size", batch, "images or captions per forward pass")->check(CLI::PositiveNumber);
  app.add_option("--image-column", image_column, "the image path column");
  app.add_option("--caption-column", caption_column, "the caption column");
  app.add_option("--separator", separator, "field separator (default: tab for .tsv, else comma)");
  app.add_option("--vocab", vocab, "BPE vocabulary (default: the one tools/fetch_assets.py caches)");
  app.add_option("--dump", dump, "also write the normalised embeddings and caption_image (.safetensors)");
  app.add_flag("--quiet", quiet, "no progress bar");
  CLI11_PARSE(app, argc, argv);
  try {
    const nn::ModelConfig cfg = mo.resolve();
    const eval::CaptionedImages pairs =
        eval::captioned_csv(data::read_csv(data, eval::csv_separator(data, separator)), image_column, caption_column);
    const text::Tokenizer tokenizer(vocab);
    const auto encoder = eval::make_encoder<built::Blocks, built::Precisions>(
        cfg, mo.weights, mo.precision, mo.device_kind(), mo.fusion());

    const auto start = std::chrono::steady_clock::now();
    const Tensor images = eval::l2_normalize_rows(eval::encode_images(*encoder, pairs.images, batch, !quiet));
    const Tensor texts =
        eval::l2_normalize_rows(eval::encode_texts(*encoder, tokenizer, pairs.captions, batch, !quiet));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int ks[] = {1, 5, 10};
    const eval::RetrievalMetrics m = eval::retrieval_metrics(eval::similarity(texts, images), pairs.caption_image, ks);

    nlohmann::ordered_json j;
    j["task"] = "zero-shot retrieval";
    j["model"] = mo.model.empty() ? mo.config : mo.model;
    j["weights"] = mo.weights;
    j["precision"] = mo.precision;
    j["data"] = data;
    j.update(eval::to_json(m));
    j["seconds"] = seconds;
    eval::write_json(out, j);
    if (!dump.empty())
      save_safetensors(dump, {{"image_embeddings", images},
                              {"text_embeddings", texts},
                              {"caption_image", Tensor::from({m.texts}, DType::i64, pairs.caption_image)}});

    std::printf("retrieval %s: %lld images, %lld captions\n", data.c_str(), static_cast<long long>(m.images),
                static_cast<long long>(m.texts));
    std::printf("text->image R@1/5/10 %.2f / %.2f / %.2f   image->text R@1/5/10 %.2f / %.2f / %.2f\n",
                100 * m.text_to_image[0], 100 * m.text_to_image[1], 100 * m.text_to_image[2], 100 * m.image_to_text[0],
                100 * m.image_to_text[1], 100 * m.image_to_text[2]);
    std::printf("wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-retrieval: %s\n", e.what());
    return 1;
  }
  return 0;
}
