// resize.hpp — defines resize_bicubic: Pillow's Image.resize(BICUBIC) for 8-bit RGB, to the same bytes.
//
// The algorithm (facts from Pillow's libImaging/Resample.c, reimplemented): a separable convolution with
// the a = -0.5 cubic kernel, support 2 widened by the downscale factor (antialiasing), each output
// sample's weights normalised to sum 1 in double and then rounded to fixed point with 22 fractional bits
// (half away from zero); sums start at 0.5 in that fixed point, are shifted down (floor) and clamped to
// 0..255. The horizontal pass runs first, into an 8-bit intermediate, then the vertical pass; a pass whose
// size does not change is skipped. Pillow computes every output pixel; `window` computes only a rectangle
// of the output, with the same bytes, so resize-then-crop costs only what the crop keeps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/image/image.hpp"

namespace evaclip::image {

namespace detail {

constexpr int kResamplePrecision = 32 - 8 - 2;  // fixed-point bits: 8-bit data, headroom for negative lobes

inline double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Fixed-point weights of output samples [first, first + count) of an in_size -> out_size resampling.
// Sample o reads input [start[o], start[o] + taps[o]) with weights k[o * ksize ...].
struct Coeffs {
  int ksize = 0;
  std::vector<int> start, taps;
  std::vector<std::int32_t> k;
};

inline Coeffs bicubic_coeffs(int in_size, int out_size, int first, int count) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0), support = 2.0 * filterscale, ss = 1.0 / filterscale;
  Coeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.start.resize(count), c.taps.resize(count), c.k.assign(std::size_t(count) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int o = 0; o < count; ++o) {
    const double center = (first + o + 0.5) * scale;
    const int lo = std::max(int(center - support + 0.5), 0);  // int(): truncation, as Pillow does
    const int hi = std::min(int(center + support + 0.5), in_size);
    double sum = 0;
    for (int i = 0; i < hi - lo; ++i) sum += w[i] = bicubic_kernel((i + lo - center + 0.5) * ss);
    for (int i = 0; i < hi - lo; ++i) {
      const double v = (sum != 0.0 ? w[i] / sum : w[i]) * (1 << kResamplePrecision);
      c.k[std::size_t(o) * c.ksize + i] = std::int32_t(v < 0 ? v - 0.5 : v + 0.5);
    }
    c.start[o] = lo, c.taps[o] = hi - lo;
  }
  return c;
}

inline std::uint8_t clip8(std::int32_t acc) {
  return std::uint8_t(std::clamp(acc >> kResamplePrecision, 0, 255));  // arithmetic shift = floor
}

}  // namespace detail

// Output rectangle [left, left + width) x [top, top + height) of the full out_w x out_h result.
struct Window {
  int left = 0, top = 0, width = 0, height = 0;
};

// Resamples src to out_w x out_h with Pillow's bicubic filter and returns the `win` part of the result.
// (src.height, src.width, 3) -> (win.height, win.width, 3)
inline RgbImage resize_bicubic(const ImageView& src, int out_w, int out_h, Window win) {
  EVACLIP_CHECK(src.width > 0 && src.height > 0 && out_w > 0 && out_h > 0, "resize_bicubic: ", src.width, "x",
                src.height, " -> ", out_w, "x", out_h, " needs positive sizes");
  EVACLIP_CHECK(win.left >= 0 && win.top >= 0 && win.width > 0 && win.height > 0 && win.left + win.width <= out_w &&
                    win.top + win.height <= out_h,
                "resize_bicubic: window ", win.width, "x", win.height, " at (", win.left, ", ", win.top,
                ") outside the ", out_w, "x", out_h, " output");
  const bool horizontal = out_w != src.width, vertical = out_h != src.height;
  // Rows of the source the vertical pass reads (all the output rows of the window when there is none).
  detail::Coeffs cv;
  int row0 = win.top, rows = win.height;
  if (vertical) {
    cv = detail::bicubic_coeffs(src.height, out_h, win.top, win.height);
    row0 = cv.start.front();
    rows = cv.start.back() + cv.taps.back() - row0;
  }

  // Horizontal pass: (rows, win.width, 3), or the source columns as they are.
  std::vector<std::uint8_t> tmp;
  const std::uint8_t* mid = nullptr;
  std::ptrdiff_t mid_stride = 0;
  if (horizontal) {
    const detail::Coeffs ch = detail::bicubic_coeffs(src.width, out_w, win.left, win.width);
    tmp.resize(std::size_t(rows) * win.width * 3);
    for (int y = 0; y < rows; ++y) {
      const std::uint8_t* in = src.row(row0 + y);
      std::uint8_t* out = tmp.data() + std::size_t(y) * win.width * 3;
      for (int x = 0; x < win.width; ++x) {
        const std::int32_t* k = ch.k.data() + std::size_t(x) * ch.ksize;
        const std::uint8_t* p = in + std::ptrdiff_t(ch.start[x]) * 3;
        std::int32_t s0 = 1 << (detail::kResamplePrecision - 1), s1 = s0, s2 = s0;
        for (int i = 0; i < ch.taps[x]; ++i) {
          s0 += p[3 * i] * k[i], s1 += p[3 * i + 1] * k[i], s2 += p[3 * i + 2] * k[i];
        }
        out[3 * x] = detail::clip8(s0), out[3 * x + 1] = detail::clip8(s1), out[3 * x + 2] = detail::clip8(s2);
      }
    }
    mid = tmp.data(), mid_stride = std::ptrdiff_t(win.width) * 3;
  } else {
    mid = src.row(row0) + std::ptrdiff_t(win.left) * 3, mid_stride = src.stride;
  }

  RgbImage out(win.width, win.height);
  const int n = win.width * 3;
  if (!vertical) {
    for (int y = 0; y < win.height; ++y) std::copy_n(mid + y * mid_stride, n, out.row(y));
    return out;
  }
  // Vertical pass, a whole row at a time (integer sums: the order does not change the result).
  std::vector<std::int32_t> acc(n);
  for (int y = 0; y < win.height; ++y) {
    std::fill(acc.begin(), acc.end(), 1 << (detail::kResamplePrecision - 1));
    const std::int32_t* k = cv.k.data() + std::size_t(y) * cv.ksize;
    for (int t = 0; t < cv.taps[y]; ++t) {
      const std::uint8_t* in = mid + (cv.start[y] - row0 + t) * mid_stride;
      const std::int32_t kt = k[t];
      for (int i = 0; i < n; ++i) acc[i] += in[i] * kt;
    }
    std::uint8_t* o = out.row(y);
    for (int i = 0; i < n; ++i) o[i] = detail::clip8(acc[i]);
  }
  return out;
}

// The whole resampled image. (H, W, 3) -> (out_h, out_w, 3)
inline RgbImage resize_bicubic(const ImageView& src, int out_w, int out_h) {
  return resize_bicubic(src, out_w, out_h, Window{0, 0, out_w, out_h});
}

}  // namespace evaclip::image
