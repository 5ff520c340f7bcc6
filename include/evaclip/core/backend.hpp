// backend.hpp — defines Device and the backend tags cpu::Backend and cuda::Backend.
//
// Kernels take the backend tag as their first argument: `layernorm_forward(B{}, ...)` is found by
// argument-dependent lookup in the tag's namespace, so generic code (the tape ops) names no backend and
// a new backend is a new namespace with a tag and the same kernel signatures. The CUDA tag carries the
// stream its kernels are launched on and the math mode of its fp32 GEMMs.
#pragma once

#include <cstdint>
#include <string_view>

namespace evaclip {

enum class Device : std::uint8_t { cpu, cuda };

constexpr std::string_view device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

namespace cpu {
struct Backend {
  static constexpr Device device = Device::cpu;
};
}  // namespace cpu

namespace cuda {
struct Backend {
  static constexpr Device device = Device::cuda;
  void* stream = nullptr;  // cudaStream_t; void* keeps this header free of CUDA includes
  // fp32 GEMMs on the tensor cores in TF32 (10-bit mantissa products, fp32 accumulation): several times
  // faster, but relative errors near 1e-3 instead of 1e-6, so off by default. bf16/f16 GEMMs ignore it.
  bool tf32 = false;
};
}  // namespace cuda

using Cpu = cpu::Backend;
using Cuda = cuda::Backend;

}  // namespace evaclip
