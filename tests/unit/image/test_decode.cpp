// test_decode.cpp — decode_image / load_image / try_load_image against Pillow's convert("RGB"), and bad input.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/test_util.hpp"
#include "evaclip/image/decode.hpp"
#include "unit/image/image_fixtures.hpp"

using namespace evaclip;
using namespace evaclip::image;
using evaclip::test::image_data_dir;

namespace {

// JPEG decoders differ (stb_image vs Pillow's libjpeg-turbo: IDCT and chroma-upsampling rounding). Measured
// against Pillow 9.4: fixtures max 3 levels, mean <= 0.07 (printed by the test); two 720x477 camera photos
// (4:2:0 and 4:2:2 progressive) max 6, mean <= 0.17. Bounded with headroom:
constexpr int kJpegDecodeMax = 8;
constexpr double kJpegDecodeMean = 0.5;

std::vector<std::uint8_t> fixture_bytes(const std::string& name) { return read_file_bytes(image_data_dir() / name); }

DecodeFailure failure_of(const std::vector<std::uint8_t>& bytes, const std::string& name, DecodeOptions opt = {}) {
  try {
    decode_image(bytes, name, opt);
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << "message does not name the file: " << e.what();
    return e.kind();
  }
  ADD_FAILURE() << name << " decoded without error";
  return DecodeFailure::io;
}

}  // namespace

TEST(ImageDecode, MatchesPillowConvertRgb) {
  int checked = 0;
  for (const auto& c : test::image_cases()) {
    if (c.op != "decode") continue;
    const RgbImage got = load_image(image_data_dir() / c.input);
    const RgbImage ref = load_image(image_data_dir() / c.ref);
    const test::ImageDiff d = test::image_diff(ref, got);
    std::printf("  decode %-24s max %d mean %.4f\n", c.input.c_str(), d.max, d.mean);
    if (c.kind == "exact") {
      EXPECT_EQ(d.max, 0) << c.input;  // lossless formats: the very same bytes
    } else {
      EXPECT_LE(d.max, kJpegDecodeMax) << c.input;
      EXPECT_LT(d.mean, kJpegDecodeMean) << c.input;
    }
    ++checked;
  }
  EXPECT_GE(checked, 14);
}

TEST(ImageDecode, SixteenBitGreyClipsLikePillow) {
  // Pillow opens 16-bit grey PNG as mode "I" and convert("RGB") clips at 255; stb alone would keep the high byte.
  const RgbImage im = load_image(image_data_dir() / "grey16_33x40.png");
  int saturated = 0, mid = 0;
  for (std::uint8_t v : im.pixels) saturated += v == 255, mid += v > 0 && v < 255;
  EXPECT_GT(saturated, 0);
  EXPECT_GT(mid, 0);
}

TEST(ImageDecode, FormatFromBytesNotName) {
  EXPECT_EQ(sniff_format(fixture_bytes("rgb_64x48.png")), ImageFormat::png);
  EXPECT_EQ(sniff_format(fixture_bytes("rgb420_96x72.jpg")), ImageFormat::jpeg);
  EXPECT_EQ(sniff_format(fixture_bytes("rgb_45x60.bmp")), ImageFormat::bmp);
  const RgbImage im = decode_image(fixture_bytes("rgb_64x48.png"), "misnamed.jpg");
  EXPECT_EQ(im.width, 64);
  EXPECT_EQ(im.height, 48);
}

TEST(ImageDecode, TruncatedFilesAreCorrupt) {
  for (const char* name : {"grey_50x70.png", "rgb_45x60.bmp", "rgb420_96x72.jpg", "progressive_100x75.jpg"}) {
    const auto full = fixture_bytes(name);
    for (double frac : {0.2, 0.5, 0.9}) {
      auto cut = full;
      cut.resize(std::size_t(double(full.size()) * frac));
      EXPECT_EQ(failure_of(cut, std::string("cut_") + name), DecodeFailure::corrupt) << name << " cut at " << frac;
    }
  }
  auto jpg = fixture_bytes("rgb420_96x72.jpg");  // only the end-of-image marker missing
  jpg.resize(jpg.size() - 2);
  EXPECT_EQ(failure_of(jpg, "no_eoi.jpg"), DecodeFailure::corrupt);
  EXPECT_EQ(failure_of({0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0}, "header_only.png"), DecodeFailure::corrupt);
}

TEST(ImageDecode, CorruptDataIsRefused) {
  auto png = fixture_bytes("grey_50x70.png");
  for (std::size_t i = png.size() / 2; i < png.size() / 2 + 40; ++i) png[i] ^= 0x5A;
  EXPECT_EQ(failure_of(png, "garbled.png"), DecodeFailure::corrupt);
  auto jpg = fixture_bytes("progressive_100x75.jpg");
  for (std::size_t i = jpg.size() / 2; i < jpg.size() / 2 + 40; ++i) jpg[i] ^= 0x5A;
  EXPECT_EQ(failure_of(jpg, "garbled.jpg"), DecodeFailure::corrupt);
}

TEST(ImageDecode, UnsupportedAndEmpty) {
  EXPECT_EQ(failure_of({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0}, "anim.gif"), DecodeFailure::unsupported);
  EXPECT_EQ(failure_of({'h', 'e', 'l', 'l', 'o'}, "notes.txt"), DecodeFailure::unsupported);
  EXPECT_EQ(failure_of({}, "empty.png"), DecodeFailure::empty);
  auto png = fixture_bytes("grey_50x70.png");  // IHDR width 0
  png[16] = png[17] = png[18] = png[19] = 0;
  EXPECT_EQ(failure_of(png, "zero_width.png"), DecodeFailure::empty);
  auto bmp = fixture_bytes("rgb_45x60.bmp");  // BITMAPINFOHEADER height 0
  bmp[22] = bmp[23] = bmp[24] = bmp[25] = 0;
  EXPECT_EQ(failure_of(bmp, "zero_height.bmp"), DecodeFailure::empty);
}

TEST(ImageDecode, PixelLimitCheckedFromTheHeader) {
  // 100000 x 100000 declared in IHDR with the tiny original data behind it: refused as too large (not as
  // corrupt), so the check ran before any decoding.
  auto png = fixture_bytes("grey_50x70.png");
  const std::uint8_t big[4] = {0x00, 0x01, 0x86, 0xA0};
  for (int i = 0; i < 4; ++i) png[16 + i] = png[20 + i] = big[i];
  EXPECT_EQ(failure_of(png, "bomb.png"), DecodeFailure::too_large);
  EXPECT_THROW_MSG(decode_image(png, "bomb.png"), "100000x100000 exceeds the limit of 178956970 pixels");
  auto jpg = fixture_bytes("progressive_100x75.jpg");  // SOF2 frame header: 60000 x 60000
  std::size_t sof = 2;
  while (!(jpg[sof] == 0xFF && (jpg[sof + 1] == 0xC0 || jpg[sof + 1] == 0xC2))) ++sof;
  jpg[sof + 5] = jpg[sof + 7] = 0xEA, jpg[sof + 6] = jpg[sof + 8] = 0x60;
  EXPECT_THROW_MSG(decode_image(jpg, "bomb.jpg"), "bomb.jpg: 60000x60000 exceeds the limit");
  auto bmp = fixture_bytes("rgb_45x60.bmp");
  bmp[19] = bmp[23] = 0x9C;  // 39981 x 39996
  EXPECT_EQ(failure_of(bmp, "bomb.bmp"), DecodeFailure::too_large);
  jpg = fixture_bytes("rgb420_96x72.jpg");
  EXPECT_EQ(failure_of(jpg, "small_limit.jpg", DecodeOptions{96 * 72 - 1}), DecodeFailure::too_large);
  EXPECT_EQ(decode_image(jpg, "at_limit.jpg", DecodeOptions{96 * 72}).width, 96);
  EXPECT_EQ(failure_of(fixture_bytes("rgb_45x60.bmp"), "small_limit.bmp", DecodeOptions{100}),
            DecodeFailure::too_large);
}

TEST(ImageDecode, TryLoadReportsInsteadOfThrowing) {
  const LoadResult ok = try_load_image(image_data_dir() / "rgb_20x30.png");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.image->width, 20);
  const LoadResult missing = try_load_image(image_data_dir() / "no_such_file.png");
  EXPECT_FALSE(missing);
  EXPECT_EQ(missing.failure, DecodeFailure::io);
  EXPECT_NE(missing.error.find("no_such_file.png"), std::string::npos) << missing.error;
  const LoadResult manifest = try_load_image(image_data_dir() / "manifest.txt");
  EXPECT_FALSE(manifest);
  EXPECT_EQ(manifest.failure, DecodeFailure::unsupported);
  EXPECT_NE(manifest.error.find("manifest.txt"), std::string::npos) << manifest.error;
  EXPECT_THROW_MSG(load_image(image_data_dir() / "manifest.txt"), "manifest.txt: unsupported format");
}
