// cuda.cuh — the CUDA backend's umbrella: every CUDA kernel (ops/cuda/), so that the tape ops and models,
// run on a Tape<P, Cuda>, find them by argument-dependent lookup. Include it in the .cu files that run
// models on the GPU (nvcc only; the rest of evaclip builds with any C++20 compiler).
#pragma once

#include "evaclip/ops/cuda/common.cuh"

#include "evaclip/ops/cuda/activations.cuh"
#include "evaclip/ops/cuda/add_layernorm.cuh"
#include "evaclip/ops/cuda/attention.cuh"
#include "evaclip/ops/cuda/cross_entropy.cuh"
#include "evaclip/ops/cuda/drop_path.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"
#include "evaclip/ops/cuda/exp_clamp.cuh"
#include "evaclip/ops/cuda/gather_rows.cuh"
#include "evaclip/ops/cuda/gemm.cuh"
#include "evaclip/ops/cuda/l2_normalize.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"
#include "evaclip/ops/cuda/layout.cuh"
#include "evaclip/ops/cuda/linear.cuh"
#include "evaclip/ops/cuda/matmul.cuh"
#include "evaclip/ops/cuda/patch_embed.cuh"
#include "evaclip/ops/cuda/rope.cuh"
#include "evaclip/ops/cuda/softmax.cuh"
#include "evaclip/ops/cuda/swiglu_layernorm.cuh"

#include "evaclip/ops/ops.hpp"
