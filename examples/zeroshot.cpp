// zeroshot.cpp — evaclip-zeroshot: zero-shot image classification as the official evaluation does it
// (docs/model-spec.md §9), e.g. ImageNet-1k top-1 / top-5.
//
//   evaclip-zeroshot (--model NAME | --config FILE.json) --weights W.safetensors --data DIR | FILE.csv
//                    --classnames imagenet | FILE --templates openai | FILE --out RESULT.json
//                    [--batch-size 64] [--precision fp32|fp64|bf16|fp16] [--device cpu|cuda] [--vocab FILE]
//                    [--image-column filepath] [--label-column label] [--separator C] [--dump FILE.safetensors]
//                    [--block NAME] [--unfused LIST]
//
// DIR: one sub-folder per class (ImageNet layout); sorted sub-folder i is class i, the i-th line of the
// class names. FILE.csv: an image path and a class index per row (paths relative to the CSV's folder).
// Classifier: per class, the mean of the L2-normalised embeddings of every template filled with its name,
// normalised again; logits = 100 x normalised image embedding . classifier. The JSON holds top-1, top-5,
// and per-class accuracy (null for a class without images; the means leave those out); --dump also writes
// image_embeddings (N, E, normalised), classifier (C, E), logits (N, C) and labels (N) as safetensors.
// Errors: one line on stderr, exit 1.
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/eval/report.hpp"
#include "evaclip/eval/zero_shot_eval.hpp"
#include "encoder_instances.hpp"  // generated: the CPU encoders this build compiled (CMakeLists.txt)
#include "model_options.hpp"

using namespace evaclip;
namespace built = evaclip::examples::built_encoder;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Zero-shot image classification with an EVA-CLIP model (top-1, top-5, per-class accuracy)"};
  ModelOptions mo;
  mo.add_to(app);
  std::string data, classnames_arg, templates_arg, out, vocab, dump, image_column = "filepath", label_column = "label",
                                                                     separator;
  std::int64_t batch = 64;
  bool quiet = false;
  app.add_option("--data", data, "image folder (one sub-folder per class) or CSV of image path and class index")
      ->required();
  app.add_option("--classnames", classnames_arg, "'imagenet' (OpenAI's 1000 names) or a file, one name a line")
      ->required();
  app.add_option("--templates", templates_arg, "'openai' (the 80 OpenAI prompts) or a file, one a line, {} = name")
      ->required();
  app.add_option("--out", out, "result file (.json)")->required();
  app.add_option("--batch-size", batch, "images (and prompts) per forward pass")->check(CLI::PositiveNumber);
  app.add_option("--vocab", vocab, "BPE vocabulary (default: the one tools/fetch_assets.py caches)");
  app.add_option("--image-column", image_column, "CSV data: the image path column");
  app.add_option("--label-column", label_column, "CSV data: the class index column");
  app.add_option("--separator", separator, "CSV data: field separator (default: tab for .tsv, else comma)");
  app.add_option("--dump", dump, "also write embeddings, classifier, logits and labels (.safetensors)");
  app.add_flag("--quiet", quiet, "no progress bar");
  CLI11_PARSE(app, argc, argv);
  try {
    const nn::ModelConfig cfg = mo.resolve();
    const std::vector<std::string> classnames = eval::read_classnames(classnames_arg);
    const std::vector<std::string> templates = eval::read_templates(templates_arg);
    EVACLIP_CHECK(fs::exists(data), "--data ", data, ": no such file or folder");
    const eval::LabelledImages samples =
        fs::is_directory(data) ? eval::image_folder(data, classnames.size(), classnames_arg)
                               : eval::labelled_csv(data::read_csv(data, eval::csv_separator(data, separator)),
                                                    image_column, label_column, classnames.size());
    const text::Tokenizer tokenizer(vocab);
    const auto encoder = eval::make_encoder<built::Blocks, built::Precisions>(
        cfg, mo.weights, mo.precision, mo.device_kind(), mo.fusion());

    const eval::ZeroShotResult r = eval::zero_shot_eval(*encoder, tokenizer, samples, classnames, templates, batch, !quiet);
    const eval::ClassificationMetrics& m = r.metrics;
    const double seconds = r.image_seconds;

    nlohmann::ordered_json j;
    j["task"] = "zero-shot classification";
    j["model"] = mo.model.empty() ? mo.config : mo.model;
    j["weights"] = mo.weights;
    j["precision"] = mo.precision;
    j["data"] = data;
    j["classnames"] = classnames_arg;
    j["templates"] = templates_arg;
    j["templates_per_class"] = templates.size();
    j["logit_scale"] = eval::kZeroShotScale;
    j.update(eval::to_json(m, classnames));
    j["image_seconds"] = seconds;
    j["images_per_second"] = double(m.samples) / seconds;
    eval::write_json(out, j);
    if (!dump.empty())
      save_safetensors(dump, {{"image_embeddings", eval::l2_normalize_rows(r.features)},
                              {"classifier", r.classifier},
                              {"logits", r.logits},
                              {"labels", Tensor::from({m.samples}, DType::i64, samples.labels)}});

    std::int64_t empty = 0;
    for (const std::int64_t n : m.class_count) empty += n == 0;
    std::printf("zero-shot %s: %lld images, %zu classes (%lld without images), %zu templates\n", data.c_str(),
                static_cast<long long>(m.samples), classnames.size(), static_cast<long long>(empty), templates.size());
    std::printf("top-1 %.2f%%  top-5 %.2f%%  mean per-class top-1 %.2f%%  (%.1f images/s)\n", 100 * m.top_k[0],
                100 * m.top_k[1], 100 * m.mean_per_class[0], double(m.samples) / seconds);
    std::printf("wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-zeroshot: %s\n", e.what());
    return 1;
  }
  return 0;
}
