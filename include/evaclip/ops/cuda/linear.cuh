// linear.cuh (cuda) — defines linear_forward / linear_backward: y = x W^T + b as one cuBLASLt GEMM.
//
// W is stored (out, in) as torch's nn.Linear, so the product is x (R, K) times W^T (K, N) with trans_b.
// The bias is added by the GEMM's exact bias epilogue: the fp32 sum of product and bias is rounded once,
// as the CPU reference does by starting y from b with beta = 1. The backward is not written yet.
#pragma once

#include <cstdint>
#include <type_traits>

#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/gemm.cuh"

namespace evaclip::cuda {

// y: (R, N); x: (R, K); w: (N, K); b: (N,) or null.
template <class Acc, class T>
void linear_forward(Backend be, T* y, const T* x, const T* w, const T* b, std::int64_t R, std::int64_t K,
                    std::int64_t N) {
  static_assert(std::is_same_v<Acc, float>, "cuda::linear_forward: CUDA computes in float (no double on CUDA)");
  cpu::GemmShape s;
  s.trans_b = true;  // x (R, K) times w^T (K, N)
  s.m = R, s.n = N, s.k = K;
  detail::lt_matmul(be, s, 1.0, x, w, 0.0, y, b, b ? Epilogue::bias : Epilogue::none, "linear_forward");
}

// dx = dy W (R, K);  dw = dy^T x (N, K);  db = sum_r dy (N,): not built yet.
template <class Acc, class T>
void linear_backward(Backend, T*, T*, T*, const T*, const T*, const T*, std::int64_t, std::int64_t, std::int64_t) {
  backward_not_built("linear_backward");
}

}  // namespace evaclip::cuda
