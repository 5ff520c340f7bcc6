// test_transform.cpp — the CLIP eval/train transforms against Pillow + torchvision fixtures, and their rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/test_util.hpp"
#include "evaclip/image/decode.hpp"
#include "evaclip/image/transform.hpp"
#include "unit/image/image_fixtures.hpp"

using namespace evaclip;
using namespace evaclip::image;
using evaclip::test::image_data_dir;

namespace {
// JPEG inputs: the decoders differ (see test_decode.cpp); resampling averages that down. Measured after
// resize + crop: fixtures max 3, mean <= 0.14 (printed by the test); two 720x477 camera photos at S = 224
// max 2, mean <= 0.19. Bounded with headroom:
constexpr int kJpegMax = 4;
constexpr double kJpegMean = 0.5;
}  // namespace

TEST(ImageTransform, EvalGeometryMatchesTorchvision) {
  int checked = 0;
  for (const auto& c : test::image_cases()) {
    if (c.op != "eval" && c.op != "center") continue;
    const RgbImage src = load_image(image_data_dir() / c.input);
    const RgbImage got = c.op == "eval" ? resize_center_crop(src, c.size) : center_crop(src, c.size, c.size);
    const test::ImageDiff d = test::image_diff(load_image(image_data_dir() / c.ref), got);
    std::printf("  %-6s %-24s S=%-3d max %d mean %.4f\n", c.op.c_str(), c.input.c_str(), c.size, d.max, d.mean);
    if (c.kind == "exact") {
      EXPECT_LE(d.max, 1) << c.ref;
      EXPECT_LT(d.mean, 0.1) << c.ref;
    } else {
      EXPECT_LE(d.max, kJpegMax) << c.ref;
      EXPECT_LT(d.mean, kJpegMean) << c.ref;
    }
    ++checked;
  }
  EXPECT_GE(checked, 25);
}

TEST(ImageTransform, NormalizeMatchesTorchvisionBitForBit) {
  // norm_ref.bin: ToTensor + Normalize(CLIP) of the levels 0..255 in every channel, float32 (3, 1, 256).
  std::ifstream f(image_data_dir() / "norm_ref.bin", std::ios::binary);
  std::vector<float> ref(3 * 256);
  f.read(reinterpret_cast<char*>(ref.data()), std::streamsize(ref.size() * sizeof(float)));
  ASSERT_TRUE(f.good());
  RgbImage levels(256, 1);
  for (int v = 0; v < 256; ++v)
    levels.pixels[3 * v] = levels.pixels[3 * v + 1] = levels.pixels[3 * v + 2] = std::uint8_t(v);
  const Tensor t = to_normalized_tensor(levels);
  ASSERT_EQ(t.shape(), (Shape{3, 1, 256}));
  const float* got = t.data<float>();
  for (int i = 0; i < 3 * 256; ++i) ASSERT_EQ(got[i], ref[i]) << "channel " << i / 256 << " level " << i % 256;
}

TEST(ImageTransform, EvalTransformIsCropThenNormalize) {
  const RgbImage src = load_image(image_data_dir() / "rgb_64x48.png");
  const Tensor t = eval_transform(src, 32);
  ASSERT_EQ(t.shape(), (Shape{3, 32, 32}));
  const RgbImage crop = resize_center_crop(src, 32);
  const float* p = t.data<float>();
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 32 * 32; i += 37)
      EXPECT_FLOAT_EQ(p[c * 1024 + i], (crop.pixels[3 * i + c] / 255.0f - kClipMean[c]) / kClipStd[c]);
}

TEST(ImageTransform, TorchvisionSizeAndRoundingRules) {
  EXPECT_EQ(short_side_size(500, 375, 224), (std::pair{298, 224}));  // int(224 * 500 / 375) = int(298.67)
  EXPECT_EQ(short_side_size(375, 500, 224), (std::pair{224, 298}));
  EXPECT_EQ(short_side_size(640, 427, 336), (std::pair{503, 336}));  // 503.6 truncated
  EXPECT_EQ(short_side_size(300, 300, 224), (std::pair{224, 224}));
  for (auto [d, r] : {std::pair{0, 0}, {1, 0}, {2, 1}, {3, 2}, {5, 2}, {7, 4}, {-1, 0}, {-3, -2}, {74, 37}})
    EXPECT_EQ(half_round_even(d), r) << "round(" << d << " / 2)";
}

TEST(ImageTransform, RandomResizedCropBoxes) {
  Rng a(1234), b(1234), c(99);
  bool any_diff = false;
  for (int i = 0; i < 200; ++i) {
    const CropBox x = random_resized_crop_box(500, 375, a), y = random_resized_crop_box(500, 375, b);
    const CropBox z = random_resized_crop_box(500, 375, c);
    EXPECT_EQ(std::memcmp(&x, &y, sizeof x), 0) << "same seed, different box at draw " << i;
    any_diff |= std::memcmp(&x, &z, sizeof x) != 0;
    ASSERT_TRUE(x.top >= 0 && x.left >= 0 && x.top + x.height <= 375 && x.left + x.width <= 500);
    const double frac = double(x.width) * x.height / (500.0 * 375.0), ratio = double(x.width) / x.height;
    EXPECT_GT(frac, 0.89);
    EXPECT_LE(frac, 1.0);
    EXPECT_GT(ratio, 0.74);
    EXPECT_LT(ratio, 1.34);
  }
  EXPECT_TRUE(any_diff);
  // No box of 90% area fits a 1000 x 10 strip within the ratio range: torchvision's fallback is the centre
  // crop of width round(10 * 4/3) = 13.
  Rng r(5);
  const CropBox fb = random_resized_crop_box(1000, 10, r);
  EXPECT_EQ(fb.height, 10);
  EXPECT_EQ(fb.width, 13);
  EXPECT_EQ(fb.left, (1000 - 13) / 2);
  EXPECT_EQ(fb.top, 0);
  const CropBox tall = random_resized_crop_box(10, 1000, r);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.height, 13);  // round(10 / (3/4)) = 13
}

TEST(ImageTransform, TrainTransformIsSeeded) {
  const RgbImage src = load_image(image_data_dir() / "rgb_64x48.png");
  Rng a(7), b(7);
  const Tensor x = train_transform(src, 24, a), y = train_transform(src, 24, b);
  ASSERT_EQ(x.shape(), (Shape{3, 24, 24}));
  EXPECT_EQ(x.to_vector(), y.to_vector());
  Rng c(7);
  const CropBox box = random_resized_crop_box(64, 48, c);
  EXPECT_EQ(to_normalized_tensor(resized_crop(src, box, 24)).to_vector(), x.to_vector());
}

TEST(ImageTransform, BadArguments) {
  const RgbImage src(8, 6);
  EXPECT_THROW_MSG(resize_center_crop(src, 0), "short_side_size: image 8x6, size 0");
  EXPECT_THROW_MSG(center_crop(src, 0, 3), "center_crop: size 0x3");
  Rng rng(1);
  EXPECT_THROW_MSG(random_resized_crop_box(0, 5, rng), "random_resized_crop_box: image 0x5");
}
