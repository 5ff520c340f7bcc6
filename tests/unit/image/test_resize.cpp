// test_resize.cpp — resize_bicubic against a direct double-precision convolution, windows, and Pillow fixtures.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.hpp"
#include "evaclip/image/decode.hpp"
#include "evaclip/image/resize.hpp"
#include "unit/image/image_fixtures.hpp"

using namespace evaclip;
using namespace evaclip::image;

namespace {

RgbImage random_image(int w, int h, std::uint64_t seed) {
  Rng rng(seed);
  RgbImage im(w, h);
  for (auto& v : im.pixels) v = std::uint8_t(rng.next_u64() % 256);
  return im;
}

// Antialiased a = -0.5 cubic along one axis, in double, rounded to 8 bits after each pass (as Pillow's
// intermediate image is 8-bit). in: n samples at stride s.
double cubic(double x) {
  x = std::abs(x);
  return x < 1 ? 1.5 * x * x * x - 2.5 * x * x + 1 : x < 2 ? -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2 : 0;
}
std::uint8_t naive_sample(const std::uint8_t* in, std::ptrdiff_t s, int n, int out_n, int o) {
  const double scale = double(n) / out_n, fs = std::max(scale, 1.0), c = (o + 0.5) * scale;
  double num = 0, den = 0;
  for (int i = 0; i < n; ++i) {
    const double w = cubic((i + 0.5 - c) / fs);
    num += w * in[i * s], den += w;
  }
  return std::uint8_t(std::clamp(std::floor(num / den + 0.5), 0.0, 255.0));
}
RgbImage naive_resize(const RgbImage& src, int ow, int oh) {
  RgbImage mid(ow, src.height), out(ow, oh);
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < ow; ++x)
      for (int c = 0; c < 3; ++c)
        mid.row(y)[3 * x + c] =
            ow == src.width ? src.row(y)[3 * x + c] : naive_sample(src.row(y) + c, 3, src.width, ow, x);
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int c = 0; c < 3; ++c)
        out.row(y)[3 * x + c] =
            oh == src.height ? mid.row(y)[3 * x + c] : naive_sample(mid.row(0) + 3 * x + c, 3 * ow, src.height, oh, y);
  return out;
}

}  // namespace

TEST(ImageResize, MatchesDirectConvolutionWithinOneLevel) {
  // The fixed-point weights (22 bits) differ from exact ones by < 2^-22 each: at most one level apart.
  const int sizes[][4] = {{64, 48, 32, 24}, {20, 30, 45, 67}, {150, 41, 88, 24}, {33, 33, 7, 9}, {17, 50, 17, 13}};
  for (const auto& s : sizes) {
    const RgbImage src = random_image(s[0], s[1], 7);
    const test::ImageDiff d = test::image_diff(naive_resize(src, s[2], s[3]), resize_bicubic(src, s[2], s[3]));
    EXPECT_LE(d.max, 1) << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3];
    EXPECT_LT(d.mean, 0.02) << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3];
  }
}

TEST(ImageResize, WindowEqualsCropOfFullResult) {
  const RgbImage src = random_image(57, 40, 3);
  for (auto [ow, oh] : {std::pair{31, 22}, std::pair{90, 70}, std::pair{57, 30}, std::pair{20, 40}}) {
    const RgbImage full = resize_bicubic(src, ow, oh);
    const Window win{ow / 3, oh / 4, ow / 2, oh / 2};
    const RgbImage part = resize_bicubic(src, ow, oh, win);
    const RgbImage expect = to_image(ImageView(full).crop(win.top, win.left, win.height, win.width));
    EXPECT_EQ(part.pixels, expect.pixels) << ow << "x" << oh;
  }
}

TEST(ImageResize, SameSizeIsACopyAndFlatStaysFlat) {
  const RgbImage src = random_image(23, 19, 5);
  EXPECT_EQ(resize_bicubic(src, 23, 19).pixels, src.pixels);
  RgbImage flat(40, 30);
  for (std::size_t i = 0; i < flat.pixels.size(); ++i) flat.pixels[i] = std::uint8_t(200 + i % 3);
  const RgbImage out = resize_bicubic(flat, 13, 71);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(out.row(y)[3 * x + c], 200 + c) << x << "," << y;
}

TEST(ImageResize, CropsOfPillowFixtures) {
  // resized_crop fixtures: Pillow crop then resize, which clamps at the crop's edges, not the image's.
  int checked = 0;
  for (const auto& c : test::image_cases()) {
    if (c.op != "crop") continue;
    const RgbImage src = load_image(test::image_data_dir() / c.input);
    const RgbImage got = resize_bicubic(ImageView(src).crop(c.top, c.left, c.height, c.width), c.size, c.size);
    const test::ImageDiff d = test::image_diff(load_image(test::image_data_dir() / c.ref), got);
    EXPECT_EQ(d.max, 0) << c.ref;
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(ImageResize, BadSizes) {
  const RgbImage src = random_image(8, 8, 1);
  EXPECT_THROW_MSG(resize_bicubic(src, 0, 4), "resize_bicubic: 8x8 -> 0x4");
  EXPECT_THROW_MSG(resize_bicubic(src, 4, 4, Window{2, 0, 4, 4}), "resize_bicubic: window 4x4 at (2, 0)");
  EXPECT_THROW_MSG(ImageView(src).crop(5, 0, 4, 4), "image crop: box (top 5");
}
