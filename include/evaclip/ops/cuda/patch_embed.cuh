// patch_embed.cuh (cuda) — defines patch_embed_forward / patch_embed_backward: the ViT patch embedding
// (a conv with kernel = stride = P) as an im2col kernel and one cuBLASLt GEMM with the bias epilogue.
//
// The im2col is ops/cpu/patch_embed.hpp's: cols (B·N, C·P·P), row r = b·N + n with n = py·(W/P) + px,
// columns in (c, ky, kx) order (the torch weight (D, C, P, P) flattened). One thread moves one segment:
// the P contiguous pixels of one image row inside one patch. Segments are numbered in image order
// (b, c, y, px), so segment s starts at pixel s·P and a warp reads one contiguous stretch of the image;
// each thread then writes its P pixels as one contiguous piece of a cols row. Pixels move V at a time,
// V the widest vector (up to 16 bytes) that divides P and both pointers' alignment: bf16 P = 16 moves two
// 16-byte vectors, P = 14 moves seven 4-byte pairs. 256 threads per block: a plain copy, so any
// occupancy-friendly size works; there is no shared memory. The copy is a small fraction of the GEMM's
// time, so the segment-per-thread layout favours simple index math over a tiled transpose.
#pragma once

#include <cstdint>
#include <type_traits>

#include "evaclip/core/dtype.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cpu/patch_embed.hpp"
#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/gemm.cuh"

namespace evaclip::cuda {

namespace detail {

// cols: (B·N, C·P·P) from images: (B, C, H, W); `segments` = B·C·H·(W/P); V elements per access.
template <class T, int V>
__global__ void im2col_patches_kernel(T* __restrict__ cols, const T* __restrict__ images, std::int64_t segments,
                                      std::int64_t C, std::int64_t H, std::int64_t P, std::int64_t grid_w) {
  const std::int64_t s = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x;
  if (s >= segments) return;
  // s = ((b·C + c)·H + y)·grid_w + px: image row y of channel c, patch column px.
  const std::int64_t px = s % grid_w, row = s / grid_w;  // row = (b·C + c)·H + y
  const std::int64_t y = row % H, bc = row / H;
  const std::int64_t c = bc % C, b = bc / C;
  const std::int64_t py = y / P, ky = y % P;
  const std::int64_t tokens = (H / P) * grid_w, K = C * P * P;
  const std::int64_t r = b * tokens + py * grid_w + px;
  using Chunk = Vec<T, V>;
  const Chunk* src = reinterpret_cast<const Chunk*>(images + s * P);
  Chunk* dst = reinterpret_cast<Chunk*>(cols + r * K + (c * P + ky) * P);
  for (std::int64_t i = 0; i < P / V; ++i) dst[i] = src[i];
}

template <class T, int V>
void launch_im2col(Backend be, T* cols, const T* images, const cpu::PatchGeometry& g) {
  const std::int64_t segments = g.B * g.C * g.H * g.grid_w();
  const int threads = 256;
  im2col_patches_kernel<T, V><<<unsigned(ceil_div(segments, threads)), threads, 0, stream_of(be)>>>(
      cols, images, segments, g.C, g.H, g.P, g.grid_w());
  check_launch(be, "patch_embed_forward (im2col)");
}

// The widest V (a power of two, V·sizeof(T) <= 16) dividing P with both pointers V-element aligned.
template <class T, int V = kVec16<T>>
void im2col_patches(Backend be, T* cols, const T* images, const cpu::PatchGeometry& g) {
  if constexpr (V > 1) {
    if (g.P % V != 0 || !vec_aligned<T, V>(cols) || !vec_aligned<T, V>(images))
      return im2col_patches<T, V / 2>(be, cols, images, g);
  }
  launch_im2col<T, V>(be, cols, images, g);
}

}  // namespace detail

// y: (B, N, D) = im2col(images) · w_flatᵀ + b, with w: (D, C, P, P) read as w_flat (D, C·P·P); b: (D,) or null.
template <class Acc, class T>
void patch_embed_forward(Backend be, T* y, const T* images, const T* w, const T* b, const cpu::PatchGeometry& g,
                         std::int64_t D) {
  static_assert(std::is_same_v<Acc, float>, "cuda::patch_embed_forward: CUDA computes in float (no double on CUDA)");
  EVACLIP_CHECK(g.B >= 0 && g.C >= 1 && g.P >= 1 && g.H % g.P == 0 && g.W % g.P == 0 && D >= 0,
                "patch_embed_forward: bad geometry B=", g.B, " C=", g.C, " H=", g.H, " W=", g.W, " P=", g.P, " D=", D);
  if (g.rows() == 0 || D == 0) return;
  EVACLIP_CHECK(images && w && y, "patch_embed_forward: null ", !images ? "images" : !w ? "weight" : "output");
  // Scratch from the caching allocator; freed (for reuse by later work on this stream) after the GEMM is queued.
  Tensor cols = Tensor::empty({g.rows(), g.patch_size()}, dtype_of<T>(), Device::cuda);
  detail::im2col_patches(be, cols.data<T>(), images, g);
  cpu::GemmShape s;
  s.trans_b = true;  // cols (B·N, K) times w_flat^T (K, D)
  s.m = g.rows(), s.n = D, s.k = g.patch_size();
  detail::lt_matmul(be, s, 1.0, static_cast<const T*>(cols.data<T>()), w, 0.0, y, b,
                    b ? Epilogue::bias : Epilogue::none, "patch_embed_forward");
}

// dw = dyᵀ · cols;  db = column sums of dy;  dimages = col2im(dy · w_flat): not built yet.
template <class Acc, class T>
void patch_embed_backward(Backend, T*, T*, T*, const T*, const T*, const T*, const cpu::PatchGeometry&, std::int64_t) {
  backward_not_built("patch_embed_backward");
}

}  // namespace evaclip::cuda
