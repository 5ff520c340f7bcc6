// cuda_backend.cu — the CUDA half of evaclip-features, -zeroshot and -retrieval: nvcc compiles the models'
// CUDA instantiations here once, for all three programs. Including eval/cuda_encoder.cuh registers the
// CUDA encoder behind eval::make_encoder(..., Device::cuda).
#include "cuda_backend.hpp"
#include "evaclip/eval/cuda_encoder.cuh"
#include "parity.hpp"

namespace evaclip::examples {

std::map<std::string, Tensor> run_parity_cuda(const nn::ModelConfig& cfg, const std::string& weights_path,
                                              const std::string& precision, const std::string& inputs, bool grads,
                                              Fusion fusion) {
  EVACLIP_CHECK(cuda_available(), "--device cuda: no CUDA device is visible");
  return run_parity<Cuda>(cfg, weights_path, precision, inputs, grads, fusion);
}

}  // namespace evaclip::examples
