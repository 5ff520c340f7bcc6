// gather_rows.cuh (cuda) — defines gather_rows_forward (y[b, k] = x[b, idx[b, k]]); the backward is not built yet.
//
// Design: one thread per 16-byte vector of the output (256 threads per block), so a row of D values is
// D / N consecutive threads: reads and writes are coalesced whatever D is (D = 64 float RoPE rows up to
// 1792-wide tokens), and the row's index is one cached load shared by those threads. Output vector v is
// row bk = v / (D / N), column v mod (D / N); the source row is (bk / K) S + idx[bk]. The vector path needs
// D to be a multiple of N and both pointers 16-byte aligned; else one element per thread. A pure copy:
// bit-identical to the CPU reference. Indices are int64 on the device and were range-checked by the
// tape op; a bad one here would read out of bounds.
#pragma once

#include <cstdint>
#include <type_traits>

#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"

namespace evaclip::cuda {

namespace ew {
// y: (B K, D / N) vectors; x: (B S, D / N); idx: (B K,).
template <int N, class T, class I>
__global__ void __launch_bounds__(kBlock) gather_rows_kernel(T* y, const T* x, const std::int64_t* idx, I nv,
                                                             Divider<I> row_vecs, Divider<I> K, std::int64_t S) {
  const I v = global_index<I>();
  if (v >= nv) return;
  const I bk = row_vecs.div(v), c = v - bk * row_vecs.d;
  const std::int64_t src_row = std::int64_t(K.div(bk)) * S + idx[bk];
  store<T, N>(y, v, load<T, N>(x, src_row * std::int64_t(row_vecs.d) + std::int64_t(c)));
}

template <int N, class T, class I>
void launch_gather_rows_as(Backend be, T* y, const T* x, const std::int64_t* idx, std::int64_t B, std::int64_t S,
                           std::int64_t K, std::int64_t D) {
  const std::int64_t nv = B * K * D / N;
  gather_rows_kernel<N, T, I>
      <<<blocks_for(nv), kBlock, 0, stream_of(be)>>>(y, x, idx, I(nv), Divider<I>(D / N), Divider<I>(K), S);
}
}  // namespace ew

// y: (B, K, D); x: (B, S, D); idx: (B, K) int64 on the device with values in [0, S).
// T is any 2-, 4- or 8-byte element (activations, or the float RoPE tables that patch dropout gathers).
template <class Acc, class T>
void gather_rows_forward(Backend be, T* y, const T* x, const std::int64_t* idx, std::int64_t B, std::int64_t S,
                         std::int64_t K, std::int64_t D) {
  static_assert(std::is_trivially_copyable_v<T> && 16 % sizeof(T) == 0, "gather_rows_forward: element size");
  if (B <= 0 || K <= 0 || D <= 0) return;
  constexpr int V = kVec16<T>;
  const bool vec = D % V == 0 && vec_aligned<T, V>(y) && vec_aligned<T, V>(x);
  if (vec) {
    if (ew::fits_u32(B * K * D / V)) ew::launch_gather_rows_as<V, T, std::uint32_t>(be, y, x, idx, B, S, K, D);
    else ew::launch_gather_rows_as<V, T, std::int64_t>(be, y, x, idx, B, S, K, D);
  } else {
    if (ew::fits_u32(B * K * D)) ew::launch_gather_rows_as<1, T, std::uint32_t>(be, y, x, idx, B, S, K, D);
    else ew::launch_gather_rows_as<1, T, std::int64_t>(be, y, x, idx, B, S, K, D);
  }
  check_launch(be, "gather_rows_forward");
}

template <class Acc, class T>
void gather_rows_backward(Backend, T*, const T*, const std::int64_t*, std::int64_t, std::int64_t, std::int64_t,
                          std::int64_t) {
  backward_not_built("gather_rows_backward");
}

}  // namespace evaclip::cuda
