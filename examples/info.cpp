// info.cpp — evaclip-info: a model's size and cost, computed from its config without building it.
//
//   evaclip-info --model NAME | --config FILE.json [--block NAME]
//
// Prints the vision block, dimensions, parameters per tower and in total (M), tokens, and forward GFLOP
// per image and per text (nn/model_stats.hpp: counted from the modules, so any compiled block works).
// `--model list` prints the released variants' names, `--block list` the compiled blocks'.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/nn/load_model.hpp"
#include "model_options.hpp"

using namespace evaclip::nn;

namespace {

void print(const std::string& name, const ModelConfig& m) {
  const ClipCfg& c = m.clip;
  const ModelCounts n = param_count(m);
  const ModelFlops f = forward_flops(m);
  std::printf("%s\n", name.c_str());
  std::printf("  vision: %s, %lld px / patch %lld, %lld x %lld, %lld heads, MLP %lld\n", m.block.c_str(),
              (long long)c.vision.image_size, (long long)c.vision.patch_size, (long long)c.vision.layers,
              (long long)c.vision.width, (long long)c.vision.heads(), (long long)c.vision.mlp_hidden());
  std::printf("  text:   %lld x %lld, %lld heads, context %lld, vocab %lld; embed %lld\n", (long long)c.text.layers,
              (long long)c.text.width, (long long)c.text.heads, (long long)c.text.context_length,
              (long long)c.text.vocab_size, (long long)c.embed_dim);
  std::printf("  params (M): vision %.2f, text %.2f, total %.2f (%lld)\n", double(n.vision) / 1e6,
              double(n.text) / 1e6, double(n.total) / 1e6, (long long)n.total);
  std::printf("  tokens: image %lld (%lld patches + CLS), text %lld\n", (long long)c.vision.num_patches() + 1,
              (long long)c.vision.num_patches(), (long long)c.text.context_length);
  std::printf("  forward GFLOP: per image %.2f, per text %.2f\n", f.image / 1e9, f.text / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parameters, tokens and forward FLOPs of an EVA-CLIP model, from its config"};
  std::string model, config, block;
  auto* by_model = app.add_option("--model", model, "a released variant, e.g. EVA02-CLIP-B-16 ('list': all)");
  app.add_option("--config", config, "model config JSON (official model_configs schema)")->excludes(by_model);
  app.add_option("--block", block, std::string(kBlockHelp) + " ('list': all)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (model == "list") for_each_variant([]<class V>(V) { std::printf("%s\n", V::name); });
    else if (block == "list") std::printf("%s\n", names_of(CompiledBlocks{}).c_str());
    else print(model.empty() ? config : model, resolve_model_config(config, model, block));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-info: %s\n", e.what());
    return 1;
  }
  return 0;
}
