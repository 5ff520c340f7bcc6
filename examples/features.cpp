// features.cpp — evaclip-features: runs a model on the inputs in a safetensors file and writes what the
// official model computes, for parity checks against any reference implementation.
//
//   evaclip-features (--config FILE.json | --model NAME) --weights W.safetensors --inputs IN.safetensors
//                    --out OUT.safetensors [--grads] [--precision fp32|fp64] [--device cpu|cuda]
//
// IN: pixel_values f32 (N, 3, H, W) and/or input_ids i64|i32 (M, context). OUT (float32): image_features
// (N, E) and text_features (M, E) before L2 normalisation, logit_scale () = exp(parameter),
// logits_per_image (N, M) with both inputs, loss () when N == M, and with --grads grad.<key> (d loss /
// d parameter) for every parameter, <key> as in the weights file. Errors: one line on stderr, exit 1.
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_stats.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

template <class P>
std::map<std::string, Tensor> run(const ModelConfig& cfg, const SafetensorsFile& weights, const SafetensorsFile& in,
                                  bool grads) {
  const bool has_images = in.contains("pixel_values"), has_ids = in.contains("input_ids");
  EVACLIP_CHECK(has_images || has_ids, in.path(), ": holds neither pixel_values nor input_ids");
  EVACLIP_CHECK(!has_images || in.entry("pixel_values").dtype == DType::f32, in.path(), ": pixel_values must be F32, got ",
                dtype_name(in.entry("pixel_values").dtype));
  return with_vision_block(cfg.family, [&]<class Block>(Block*) {
    ParamInit init = ParamInit::for_policy<P>(0);
    const Clip<Block> model(init, cfg.clip);
    const ParamList params = model.params(cfg.text_keys);
    const LoadReport rep = load_weights(params, weights);

    Tape<P> tape;
    std::optional<NoGrad> no_grad;
    if (!grads) no_grad.emplace(tape);
    const auto o = model.forward(tape, has_images ? Var(in.tensor("pixel_values", P::act_dtype)) : Var(),
                                 has_ids ? in.tensor("input_ids") : Tensor());
    std::map<std::string, Tensor> out;
    auto put = [&](const std::string& key, const Var& v) {
      if (v.defined()) out.emplace(key, v.value().to(DType::f32));
    };
    put("image_features", o.image_features);
    put("text_features", o.text_features);
    put("logit_scale", o.scale);
    put("logits_per_image", o.logits_per_image);
    put("loss", o.loss);
    if (grads) {
      EVACLIP_CHECK(o.loss.defined(), "--grads needs the loss: pixel_values and input_ids with as many rows each");
      tape.backward(o.loss);
      for (std::size_t i = 0; i < params.size(); ++i)
        out.emplace("grad." + rep.source_keys[i], params[i].var.grad().to(DType::f32));
    }
    return out;
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Run an EVA-CLIP model on safetensors inputs; write features, logits, loss and gradients"};
  std::string config, model, weights, inputs, out, precision = "fp32", device = "cpu";
  bool grads = false;
  auto* by_config = app.add_option("--config", config, "model config JSON (official model_configs schema)");
  app.add_option("--model", model, "a released variant, e.g. EVA02-CLIP-B-16")->excludes(by_config);
  app.add_option("--weights", weights, "checkpoint (.safetensors)")->required();
  app.add_option("--inputs", inputs, "pixel_values and/or input_ids (.safetensors)")->required();
  app.add_option("--out", out, "output file (.safetensors, float32)")->required();
  app.add_flag("--grads", grads, "also write grad.<key> for every parameter (needs N == M)");
  app.add_option("--precision", precision, "fp32 or fp64")->check(CLI::IsMember({"fp32", "fp64"}));
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  CLI11_PARSE(app, argc, argv);
  try {
    EVACLIP_CHECK(device == "cpu", "--device cuda: not built yet: CUDA backend (issue 7)");
    EVACLIP_CHECK(!config.empty() || !model.empty(), "give --config FILE.json or --model NAME");
    const ModelConfig cfg = config.empty() ? find_variant(model) : read_model_config(config);
    const SafetensorsFile wfile(weights), ifile(inputs);
    const auto result = precision == "fp64" ? run<fp64>(cfg, wfile, ifile, grads) : run<fp32>(cfg, wfile, ifile, grads);
    save_safetensors(out, result);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "evaclip-features: %s\n", e.what());
    return 1;
  }
  return 0;
}
