// cuda_backend.hpp — declares what examples/cuda_backend.cu (compiled by nvcc, linked into the programs
// that take --device cuda when evaclip is built with CUDA) provides to the g++-compiled programs.
#pragma once

#include <map>
#include <string>

#include "evaclip/core/tensor.hpp"
#include "evaclip/nn/model_config.hpp"

namespace evaclip::examples {

// run_parity<Cuda> (parity.hpp). Without CUDA it is not declared and --device cuda is an error.
#if defined(EVACLIP_WITH_CUDA)
std::map<std::string, Tensor> run_parity_cuda(const nn::ModelConfig& cfg, const std::string& weights_path,
                                              const std::string& precision, const std::string& inputs, bool grads,
                                              Fusion fusion);
#endif

}  // namespace evaclip::examples
