// patch_embed.hpp (cpu) — defines patch_embed_forward / patch_embed_backward: a stride-P, kernel-P conv as
// im2col + GEMM.
//
// Because stride == kernel, the patches tile the image without overlap: im2col is a pure rearrangement of
// the pixels into (B·N, C·P·P) rows (patch n = py·(W/P) + px, columns in (c, ky, kx) order, matching the
// torch weight (D, C, P, P) flattened), and col2im is its exact inverse (no additions needed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

struct PatchGeometry {
  std::int64_t B, C, H, W, P;
  std::int64_t grid_w() const { return W / P; }
  std::int64_t tokens() const { return (H / P) * (W / P); }  // N
  std::int64_t rows() const { return B * tokens(); }         // B·N
  std::int64_t patch_size() const { return C * P * P; }      // K, the GEMM reduction length
};

namespace detail {
// Calls copy_row(image offset, column offset) for every kernel row (b, n, c, ky): P contiguous pixels each side.
template <class F>
void for_each_patch_row(const PatchGeometry& g, F&& copy_row) {
  parallel_ranges(g.rows(), g.patch_size(), [&](std::int64_t r_begin, std::int64_t r_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      const std::int64_t b = r / g.tokens(), n = r % g.tokens();
      const std::int64_t y0 = n / g.grid_w() * g.P, x0 = n % g.grid_w() * g.P;
      for (std::int64_t c = 0; c < g.C; ++c)
        for (std::int64_t ky = 0; ky < g.P; ++ky)
          copy_row(((b * g.C + c) * g.H + y0 + ky) * g.W + x0, r * g.patch_size() + (c * g.P + ky) * g.P);
    }
  });
}
}  // namespace detail

// cols: (B·N, C·P·P) from images: (B, C, H, W).
template <class T>
void im2col_patches(T* cols, const T* images, const PatchGeometry& g) {
  detail::for_each_patch_row(
      g, [&](std::int64_t img, std::int64_t col) { std::copy(images + img, images + img + g.P, cols + col); });
}

// images: (B, C, H, W) from cols: (B·N, C·P·P), the inverse of im2col_patches.
template <class T>
void col2im_patches(T* images, const T* cols, const PatchGeometry& g) {
  detail::for_each_patch_row(
      g, [&](std::int64_t img, std::int64_t col) { std::copy(cols + col, cols + col + g.P, images + img); });
}

// y: (B, N, D) = im2col(images) · w_flatᵀ + b, with w: (D, C, P, P) read as w_flat (D, C·P·P); b: (D,) or null.
template <class Acc, class T>
void patch_embed_forward(Backend be, T* y, const T* images, const T* w, const T* b, const PatchGeometry& g,
                         std::int64_t D) {
  std::vector<T> cols(std::size_t(g.rows() * g.patch_size()));
  im2col_patches(cols.data(), images, g);
  if (b) {  // start from the bias rows and let the GEMM add onto them (beta = 1)
    parallel_ranges(g.rows(), D, [&](std::int64_t r_begin, std::int64_t r_end) {
      for (std::int64_t r = r_begin; r < r_end; ++r) {
        std::copy(b, b + D, y + r * D);
      }
    });
  }
  GemmShape s;
  s.trans_b = true;
  s.m = g.rows();
  s.n = D;
  s.k = g.patch_size();
  gemm(be, s, 1.0, cols.data(), w, b ? 1.0 : 0.0, y);
}

// dw = dyᵀ · cols (D, C·P·P);  db = column sums of dy;  dimages = col2im(dy · w_flat).
// Any output may be null (not wanted); all are overwritten.
template <class Acc, class T>
void patch_embed_backward(Backend be, T* dimages, T* dw, T* db, const T* dy, const T* images, const T* w,
                          const PatchGeometry& g, std::int64_t D) {
  const std::int64_t rows = g.rows(), K = g.patch_size();
  std::vector<T> cols(std::size_t(rows * K));
  if (dw) {
    im2col_patches(cols.data(), images, g);  // recomputed rather than saved: it is a copy of the images
    GemmShape s;
    s.trans_a = true;
    s.m = D;
    s.n = K;
    s.k = rows;
    gemm(be, s, 1.0, dy, cols.data(), 0.0, dw);
  }
  if (db) {
    std::vector<Acc> acc(static_cast<std::size_t>(D));
    column_reduce<Acc>(rows, D, acc.data(), [&](std::int64_t r, Acc* a) {
      for (std::int64_t j = 0; j < D; ++j) a[j] += convert<Acc>(dy[r * D + j]);
    });
    for (std::int64_t j = 0; j < D; ++j) db[j] = convert<T>(acc[std::size_t(j)]);
  }
  if (dimages) {
    GemmShape s;
    s.m = rows;
    s.n = K;
    s.k = D;
    gemm(be, s, 1.0, dy, w, 0.0, cols.data());  // cols now holds d(cols)
    col2im_patches(dimages, cols.data(), g);
  }
}

}  // namespace evaclip::cpu
