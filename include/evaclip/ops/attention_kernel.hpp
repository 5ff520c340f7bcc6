// attention_kernel.hpp — defines AttentionKernel: the compile-time choice of attention implementation.
//
// `fused` is the flash-attention kernel (RoPE on load, online softmax, no (T, T) matrix in memory);
// `unfused` is the ablation baseline (RoPE kernel, score GEMM, softmax kernel, value GEMM). A block type
// picks one through its features; the CPU backend has a single reference for both.
#pragma once

namespace evaclip {

enum class AttentionKernel { fused, unfused };

}  // namespace evaclip
