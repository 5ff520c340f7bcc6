// matmul.cuh (cuda) — defines matmul_forward / matmul_backward: batched C = op(A) op(B) as one strided
// cuBLASLt GEMM.
//
// The dimensions are cpu::MatmulDims, laid out as in ops/cpu/matmul.hpp: A batch-strided by its stored
// size, B likewise or broadcast (batch stride 0) when broadcast_b, C (batch, M, N) tight. One launch covers
// the whole batch (cuBLASLt's strided batch), so attention-sized products pay one launch, not one per item.
#pragma once

#include <cstdint>
#include <type_traits>

#include "evaclip/ops/cpu/matmul.hpp"
#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/gemm.cuh"

namespace evaclip::cuda {

// c: (batch, M, N); a: (batch, M, K) or (batch, K, M); b: (batch|1, K, N) or (batch|1, N, K).
template <class Acc, class T>
void matmul_forward(Backend be, T* c, const T* a, const T* b, const cpu::MatmulDims& d) {
  static_assert(std::is_same_v<Acc, float>, "cuda::matmul_forward: CUDA computes in float (no double on CUDA)");
  const auto s = cpu::detail::batched(d.trans_a, d.trans_b, d.batch, d.m, d.n, d.k, false, d.broadcast_b);
  detail::lt_matmul(be, s, 1.0, a, b, 0.0, c, static_cast<const T*>(nullptr), Epilogue::none, "matmul_forward");
}

// d op(A) = dC op(B)^T,  d op(B) = op(A)^T dC: not built yet.
template <class Acc, class T>
void matmul_backward(Backend, T*, T*, const T*, const T*, const T*, const cpu::MatmulDims&) {
  backward_not_built("matmul_backward");
}

}  // namespace evaclip::cuda
