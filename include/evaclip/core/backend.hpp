// backend.hpp — defines Device, Fusion (the run-time kernel-fusion switches) and the backend tags
// cpu::Backend and cuda::Backend.
//
// Kernels take the backend tag as their first argument: `layernorm_forward(B{}, ...)` is found by
// argument-dependent lookup in the tag's namespace, so generic code (the tape ops) names no backend and
// a new backend is a new namespace with a tag and the same kernel signatures. The tags carry the run-time
// switches their kernels read: the fusions, and for CUDA the stream and the math mode of fp32 GEMMs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "evaclip/core/error.hpp"

namespace evaclip {

enum class Device : std::uint8_t { cpu, cuda };

constexpr std::string_view device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

// Which fused kernels run. A fusion switched off runs the unfused kernels in sequence, the composition
// the fused op's CPU reference is written as, so results agree to the kernels' own rounding. The CPU
// kernels are those compositions already: on the CPU the switches change nothing.
struct Fusion {
  bool attention = true;    // RoPE + attention in one flash kernel; off: RoPE, score GEMM, softmax, value GEMM
  bool add_norm = true;     // residual add + the next LayerNorm; off: add, then layernorm
  bool swiglu_norm = true;  // SwiGLU + its inner LayerNorm; off: swiglu, then layernorm

  static constexpr Fusion none() { return {false, false, false}; }
  bool operator==(const Fusion&) const = default;
};

// The switch names, in the order of Fusion's fields (as --unfused takes them).
inline constexpr std::string_view kFusionNames[] = {"attention", "add_norm", "swiglu_norm"};

// All fusions on, except those in `list`: comma-separated names from kFusionNames, "all", or "none"/""
// (nothing off). An unknown name is an error listing the known ones.
inline Fusion fusion_without(std::string_view list) {
  Fusion f;
  bool* bits[] = {&f.attention, &f.add_norm, &f.swiglu_norm};
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (name == "all") {
      f = Fusion::none();
      continue;
    }
    if (name == "none" || name.empty()) continue;
    bool known = false;
    for (std::size_t i = 0; i < std::size(kFusionNames); ++i)
      if (name == kFusionNames[i]) *bits[i] = false, known = true;
    EVACLIP_CHECK(known, "--unfused: unknown fusion \"", std::string(name),
                  "\" (known: attention, add_norm, swiglu_norm, all, none)");
  }
  return f;
}

// "attention,add_norm" for the fusions that are off; "none" when all are on.
inline std::string unfused_names(const Fusion& f) {
  const bool bits[] = {f.attention, f.add_norm, f.swiglu_norm};
  std::string out;
  for (std::size_t i = 0; i < std::size(kFusionNames); ++i)
    if (!bits[i]) out += (out.empty() ? "" : ",") + std::string(kFusionNames[i]);
  return out.empty() ? "none" : out;
}

namespace cpu {
struct Backend {
  static constexpr Device device = Device::cpu;
  Fusion fusion;  // read by no CPU kernel (see Fusion); here so generic code sets it on any backend
};
}  // namespace cpu

namespace cuda {
struct Backend {
  static constexpr Device device = Device::cuda;
  void* stream = nullptr;  // cudaStream_t; void* keeps this header free of CUDA includes
  // fp32 GEMMs on the tensor cores in TF32 (10-bit mantissa products, fp32 accumulation): several times
  // faster, but relative errors near 1e-3 instead of 1e-6, so off by default. bf16/f16 GEMMs ignore it.
  bool tf32 = false;
  Fusion fusion;
};
}  // namespace cuda

using Cpu = cpu::Backend;
using Cuda = cuda::Backend;

}  // namespace evaclip
