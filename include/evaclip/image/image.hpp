// image.hpp — defines RgbImage (an owned 8-bit RGB raster) and ImageView (a read-only window into one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "evaclip/core/error.hpp"

namespace evaclip::image {

// 8-bit RGB, row-major and interleaved: pixel (x, y) channel c is pixels[(y * width + x) * 3 + c].
// (H, W, 3)
struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;

  RgbImage() = default;
  RgbImage(int w, int h) : width(w), height(h), pixels(std::size_t(w) * std::size_t(h) * 3, 0) {}
  std::uint8_t* row(int y) { return pixels.data() + std::size_t(y) * std::size_t(width) * 3; }
  const std::uint8_t* row(int y) const { return pixels.data() + std::size_t(y) * std::size_t(width) * 3; }
};

// A rectangle of an RgbImage without a copy (crops feed the resampler this way). stride: bytes per row.
struct ImageView {
  const std::uint8_t* data = nullptr;
  int width = 0, height = 0;
  std::ptrdiff_t stride = 0;

  ImageView() = default;
  ImageView(const RgbImage& im) : data(im.pixels.data()), width(im.width), height(im.height), stride(im.width * 3) {}
  const std::uint8_t* row(int y) const { return data + y * stride; }

  // The sub-rectangle at (left, top) of size width x height; it must lie inside this view.
  ImageView crop(int top, int left, int h, int w) const {
    EVACLIP_CHECK(top >= 0 && left >= 0 && h > 0 && w > 0 && top + h <= height && left + w <= width,
                  "image crop: box (top ", top, ", left ", left, ", ", h, "x", w, ") outside the ", height, "x", width,
                  " image");
    ImageView v = *this;
    v.data = data + top * stride + std::ptrdiff_t(left) * 3;
    v.width = w, v.height = h;
    return v;
  }
};

// Copies a view into an owned image.
inline RgbImage to_image(const ImageView& v) {
  RgbImage out(v.width, v.height);
  for (int y = 0; y < v.height; ++y)
    for (int i = 0; i < v.width * 3; ++i) out.row(y)[i] = v.row(y)[i];
  return out;
}

}  // namespace evaclip::image
