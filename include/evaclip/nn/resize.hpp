// resize.hpp — defines resize_pos_embed() and set_image_size(): running a vision tower at an image size
// other than the one its checkpoint was trained at, the way the official code does (docs/model-spec.md §2e).
//
// Official (utils.resize_evaclip_pos_embed): the CLS row is kept, the G0 x G0 grid rows are resized to
// G1 x G1 with torch's bicubic interpolate (align_corners=False, no antialias) and flattened row-major;
// the RoPE tables are rebuilt for the new grid with the same pt_hw_seq_len (intp_freq).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "evaclip/nn/vision_transformer.hpp"

namespace evaclip::nn {

namespace detail {
// One output index of torch's upsample_bicubic2d (align_corners=False, size given): the source
// position scale (dst + 0.5) - 0.5 is not clamped; its 4 taps are clamped to the border; A = -0.75.
struct CubicTaps {
  std::int64_t idx[4];
  double w[4];
};

inline CubicTaps cubic_taps(std::int64_t dst, std::int64_t in_size, std::int64_t out_size) {
  constexpr double A = -0.75;
  const double src = double(in_size) / double(out_size) * (double(dst) + 0.5) - 0.5;
  const double fl = std::floor(src), t = src - fl;
  auto near = [](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };           // |x| <= 1
  auto far = [](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };      // 1 < |x| < 2
  CubicTaps c{{}, {far(t + 1), near(t), near(1 - t), far(2 - t)}};
  for (int k = 0; k < 4; ++k) c.idx[k] = std::clamp<std::int64_t>(std::int64_t(fl) - 1 + k, 0, in_size - 1);
  return c;
}
}  // namespace detail

// (1, 1 + G0*G0, D) -> (1, 1 + G1*G1, D), same dtype; computed in fp64.
inline Tensor resize_pos_embed(const Tensor& pos, std::int64_t new_grid) {
  const Shape& s = pos.shape();
  EVACLIP_CHECK(s.size() == 3 && s[0] == 1 && s[1] >= 2 && is_floating(pos.dtype()), "resize_pos_embed: pos_embed ",
                to_string(s), " is not a floating (1, 1 + G*G, D) tensor");
  const std::int64_t G0 = std::llround(std::sqrt(double(s[1] - 1))), D = s[2], G1 = new_grid;
  EVACLIP_CHECK(G0 * G0 == s[1] - 1, "resize_pos_embed: pos_embed ", to_string(s), " has ", s[1] - 1,
                " grid rows, not a square");
  EVACLIP_CHECK(G1 > 0, "resize_pos_embed: new grid ", G1, " must be positive");
  const Tensor in = pos.to(DType::f64).contiguous();
  Tensor out = Tensor::empty({1, 1 + G1 * G1, D}, DType::f64);
  const double* x = in.data<double>();
  double* y = out.data<double>();
  std::copy(x, x + D, y);  // CLS row
  std::vector<detail::CubicTaps> taps;
  for (std::int64_t i = 0; i < G1; ++i) taps.push_back(detail::cubic_taps(i, G0, G1));
  std::vector<double> row(std::size_t(4 * D));
  for (std::int64_t oy = 0; oy < G1; ++oy)
    for (std::int64_t ox = 0; ox < G1; ++ox) {
      const auto &ty = taps[std::size_t(oy)], &tx = taps[std::size_t(ox)];
      // Along x within each of the 4 source rows, then along y: torch's order.
      for (int k = 0; k < 4; ++k)
        for (std::int64_t d = 0; d < D; ++d) {
          const double* r = x + (1 + ty.idx[k] * G0) * D + d;
          row[std::size_t(k * D + d)] = r[tx.idx[0] * D] * tx.w[0] + r[tx.idx[1] * D] * tx.w[1] +
                                        r[tx.idx[2] * D] * tx.w[2] + r[tx.idx[3] * D] * tx.w[3];
        }
      double* o = y + (1 + oy * G1 + ox) * D;
      for (std::int64_t d = 0; d < D; ++d)
        o[d] = row[std::size_t(d)] * ty.w[0] + row[std::size_t(D + d)] * ty.w[1] + row[std::size_t(2 * D + d)] * ty.w[2] +
               row[std::size_t(3 * D + d)] * ty.w[3];
    }
  return out.to(pos.dtype());
}

// Re-targets a (loaded) vision tower to image_size: pos_embed resized as above, RoPE tables rebuilt,
// cfg.image_size updated. Replaces the pos_embed Var, so take params() again afterwards.
template <class Block>
void set_image_size(VisionTransformer<Block>& vt, std::int64_t image_size) {
  VisionCfg c = vt.cfg;
  c.image_size = image_size;
  c.validate();
  if (c.grid() != vt.cfg.grid()) {
    Tensor p = resize_pos_embed(vt.pos_embed.value(), c.grid());
    vt.pos_embed = vt.pos_embed.requires_grad() ? Var::parameter(std::move(p), vt.pos_embed.grad_dtype())
                                                : Var(std::move(p));
    if constexpr (Block::uses_rope) vt.rope = rope2d_tables(c.grid(), c.head_width, c.pt_hw_seq_len);
  }
  vt.cfg = c;
}

}  // namespace evaclip::nn
