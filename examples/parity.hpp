// parity.hpp — defines run_parity<B>(): evaclip-features' parity mode on backend B, the model's outputs
// (and with grads its parameter gradients) on ready-made safetensors inputs, as host float32 tensors.
//
// A template over the backend so that the CPU build instantiates it in features.cpp and the CUDA build in
// cuda_backend.cu (nvcc), from this one definition; and over the blocks and precisions it dispatches to, so
// that features.cpp compiles only those of this build (EVACLIP_BLOCKS, EVACLIP_PRECISIONS).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <type_traits>

#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_model.hpp"

namespace evaclip::examples {

template <class B, class Blocks = nn::CompiledBlocks,
          class Precisions = std::conditional_t<B::device == Device::cuda, nn::CudaPrecisions, nn::AllPrecisions>>
std::map<std::string, Tensor> run_parity(const nn::ModelConfig& cfg, const std::string& weights_path,
                                         const std::string& precision, const std::string& inputs, bool grads,
                                         Fusion fusion) {
  const SafetensorsFile weights(weights_path), in(inputs);
  const bool has_images = in.contains("pixel_values"), has_ids = in.contains("input_ids");
  EVACLIP_CHECK(has_images || has_ids, in.path(), ": holds neither pixel_values nor input_ids");
  EVACLIP_CHECK(!has_images || in.entry("pixel_values").dtype == DType::f32, in.path(),
                ": pixel_values must be F32, got ", dtype_name(in.entry("pixel_values").dtype));
  auto run = [&]<class P, class Block>(P, std::type_identity<Block>) {
    const nn::LoadedClip<Block> m = nn::load_clip<P, Block>(cfg, weights, B::device);
    Tape<P, B> tape(B{.fusion = fusion});
    std::optional<NoGrad> no_grad;
    if (!grads) no_grad.emplace(tape);
    const Var images = has_images ? Var(in.tensor("pixel_values", P::act_dtype).to(B::device)) : Var();
    const auto o = m.model.forward(tape, images, has_ids ? in.tensor("input_ids") : Tensor());
    std::map<std::string, Tensor> out;
    auto put = [&](const std::string& key, const Tensor& t) { out.emplace(key, t.to(Device::cpu).to(DType::f32)); };
    auto put_var = [&](const std::string& key, const Var& v) {
      if (v.defined()) put(key, v.value());
    };
    put_var("image_features", o.image_features);
    put_var("text_features", o.text_features);
    put_var("logit_scale", o.scale);
    put_var("logits_per_image", o.logits_per_image);
    put_var("loss", o.loss);
    if (grads) {
      EVACLIP_CHECK(o.loss.defined(), "--grads needs the loss: pixel_values and input_ids with as many rows each");
      tape.backward(o.loss);
      for (std::size_t i = 0; i < m.params.size(); ++i) put("grad." + m.report.source_keys[i], m.params[i].var.grad());
    }
    return out;
  };
  if constexpr (B::device == Device::cuda)
    return nn::with_cuda_model_types<Blocks, Precisions>(precision, cfg.block, run);
  else
    return nn::with_model_types<Blocks, Precisions>(precision, cfg.block, run);
}

}  // namespace evaclip::examples
