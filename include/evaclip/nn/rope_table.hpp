// rope_table.hpp — defines rope2d_tables(): the EVA02 2D rotary cos/sin tables for a G x G patch grid.
//
// Following the official VisionRotaryEmbeddingFast with intp_freq (docs/model-spec.md §2c), in fp32 and in its order of
// operations: per axis K = hd/4 frequencies w_k = 1 / theta^(2k / (hd/2)); grid positions are
// t_i = i / G * pt (pt = 16, the pretraining grid, so other resolutions interpolate); for token n = r G + c
// dims [0, hd/2) carry angles t_r w_k and dims [hd/2, hd) carry t_c w_k, each frequency duplicated on an
// adjacent pair (2k, 2k+1) — the layout rope2d() rotates.
#pragma once

#include <cmath>
#include <utility>

#include "evaclip/core/tensor.hpp"

namespace evaclip {

struct RopeTables {
  Tensor cos;  // (G*G, hd) f32
  Tensor sin;  // (G*G, hd) f32
};

inline RopeTables rope2d_tables(std::int64_t grid, std::int64_t head_dim, std::int64_t pt_seq_len = 16,
                                float theta = 10000.0f) {
  EVACLIP_CHECK(grid > 0 && head_dim > 0 && head_dim % 4 == 0, "rope2d_tables: head_dim ", head_dim,
                " must be a positive multiple of 4 and grid ", grid, " positive");
  const std::int64_t half = head_dim / 2, K = head_dim / 4;
  std::vector<float> freq(static_cast<std::size_t>(K)), pos(static_cast<std::size_t>(grid));
  for (std::int64_t k = 0; k < K; ++k)
    freq[std::size_t(k)] = 1.0f / std::pow(theta, float(2 * k) / float(half));
  for (std::int64_t i = 0; i < grid; ++i) pos[std::size_t(i)] = float(i) / float(grid) * float(pt_seq_len);

  RopeTables t{Tensor::empty({grid * grid, head_dim}, DType::f32), Tensor::empty({grid * grid, head_dim}, DType::f32)};
  float* c = t.cos.data<float>();
  float* s = t.sin.data<float>();
  for (std::int64_t r = 0; r < grid; ++r)
    for (std::int64_t col = 0; col < grid; ++col) {
      const std::int64_t n = r * grid + col;
      for (std::int64_t d = 0; d < head_dim; ++d) {
        const float p = d < half ? pos[std::size_t(r)] : pos[std::size_t(col)];
        const float angle = p * freq[std::size_t((d % half) / 2)];
        c[n * head_dim + d] = std::cos(angle);
        s[n * head_dim + d] = std::sin(angle);
      }
    }
  return t;
}

}  // namespace evaclip
