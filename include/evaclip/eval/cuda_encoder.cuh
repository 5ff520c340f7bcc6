// cuda_encoder.cuh — defines the CUDA Encoder behind make_encoder(..., Device::cuda): include it in one .cu
// file of a program (nvcc compiles the model's CUDA kernels there) and `--device cuda` works in that program.
//
// Including it registers the factory in eval::detail::cuda_encoder_factory() during static initialisation,
// so programs built without it still link and report a clear error instead.
#pragma once

#include "evaclip/cuda.cuh"
#include "evaclip/eval/encoder.hpp"

namespace evaclip::eval::detail {

inline std::unique_ptr<Encoder> make_cuda_encoder(const nn::ModelConfig& cfg, const SafetensorsFile& weights,
                                                  const std::string& precision, Fusion fusion) {
  EVACLIP_CHECK(cuda_available(), "--device cuda: no CUDA device is visible");
  return nn::with_cuda_model_types(precision, cfg.block,
                                   [&]<class P, class Block>(P, std::type_identity<Block>) -> std::unique_ptr<Encoder> {
                                     return std::make_unique<ClipEncoder<P, Block, Cuda>>(
                                         cfg, nn::load_clip<P, Block>(cfg, weights, Device::cuda), Cuda{.fusion = fusion});
                                   });
}

inline const bool cuda_encoder_registered = (cuda_encoder_factory() = &make_cuda_encoder, true);

}  // namespace evaclip::eval::detail
