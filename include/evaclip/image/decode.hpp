// decode.hpp — defines decode_image / load_image / try_load_image: JPEG, PNG and BMP files to RgbImage.
//
// Decoding is stb_image's, so a program that includes this header must link evaclip::stb (Debian
// libstb-dev: the headers plus libstb, which already holds the implementations; never define
// STB_IMAGE_IMPLEMENTATION). The conversion to RGB follows Pillow's Image.convert("RGB"), which is what
// torchvision's ImageFolder loader and webdataset's "pilrgb" decoder apply before the transforms:
//   grey, grey+alpha   -> the grey value in all three channels; alpha dropped
//   RGBA, palette+tRNS -> alpha dropped, not composited over any background
//   16-bit RGB(A), LA  -> the high byte of each sample (Pillow's "RGB;16B" unpacking)
//   16-bit grey        -> min(value, 255): Pillow opens it as mode "I" and convert("RGB") clips
// EXIF orientation is ignored, as Image.open does. Everything is checked from the header (format, size,
// pixel limit) before any pixel is decoded, so a decompression bomb costs no memory.
#pragma once

#include <stb_image.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/image/image.hpp"

namespace evaclip::image {

enum class ImageFormat { unknown, jpeg, png, bmp };
// Why a file was refused, for loaders that skip and count bad samples.
enum class DecodeFailure { io, unsupported, corrupt, too_large, empty };

inline const char* to_string(DecodeFailure f) {
  switch (f) {
    case DecodeFailure::io: return "io";
    case DecodeFailure::unsupported: return "unsupported";
    case DecodeFailure::corrupt: return "corrupt";
    case DecodeFailure::too_large: return "too_large";
    case DecodeFailure::empty: return "empty";
  }
  return "?";
}

// The evaclip::Error thrown for a file that cannot be used; message "image <name>: <reason>".
class ImageError : public Error {
 public:
  ImageError(DecodeFailure kind, const std::string& msg) : Error(msg), kind_(kind) {}
  DecodeFailure kind() const { return kind_; }

 private:
  DecodeFailure kind_;
};

struct DecodeOptions {
  // Pillow's Image.MAX_IMAGE_PIXELS (its DecompressionBombError fires at twice this; we refuse above it).
  std::int64_t max_pixels = 178'956'970;
};

// The format from the first bytes (the file name's extension is not trusted).
inline ImageFormat sniff_format(std::span<const std::uint8_t> b) {
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::jpeg;
  if (b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::png;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return ImageFormat::bmp;
  return ImageFormat::unknown;
}

namespace detail {

[[noreturn]] inline void image_fail(DecodeFailure kind, const std::string& name, const std::string& why) {
  throw ImageError(kind, "image " + name + ": " + why);
}

// The frame size from a JPEG's first SOFn segment, walking the marker segments before it; -1 if none.
inline std::pair<std::int64_t, std::int64_t> jpeg_size(std::span<const std::uint8_t> b) {
  std::size_t p = 2, n = b.size();
  while (p < n) {
    if (b[p] != 0xFF) {
      ++p;
      continue;
    }                                   // stray bytes between segments: libjpeg skips them too
    while (p < n && b[p] == 0xFF) ++p;  // fill bytes
    if (p >= n) break;
    const std::uint8_t m = b[p++];
    if (m == 0xD9 || m == 0xDA) break;                    // end of image, or scan data before any frame header
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // markers without a length
    if (p + 2 > n) break;
    const std::size_t len = std::size_t(b[p]) << 8 | b[p + 1];
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && len >= 7 && p + 7 <= n)
      return {std::int64_t(b[p + 5]) << 8 | b[p + 6], std::int64_t(b[p + 3]) << 8 | b[p + 4]};
    p += len;
  }
  return {-1, -1};
}

inline std::uint32_t le(std::span<const std::uint8_t> b, std::size_t at, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | b[at + i];
  return v;
}

// stb zero-fills a short uncompressed BMP without complaint (it does refuse short JPEGs and PNGs):
// check that the pixel array fits in the file.
inline bool bmp_complete(std::span<const std::uint8_t> b, int w, int h) {
  if (b.size() < 30) return false;
  const std::uint32_t offset = le(b, 10, 4), header = le(b, 14, 4);
  const std::uint32_t bpp = header == 12 ? le(b, 24, 2) : le(b, 28, 2);
  const std::uint32_t compression = header == 12 ? 0 : le(b, 30, 4);
  if (compression != 0 && compression != 3 && compression != 6) return true;  // RLE: stb checks as it goes
  const std::uint64_t stride = (std::uint64_t(w) * bpp + 31) / 32 * 4;
  return std::uint64_t(offset) + stride * std::uint64_t(h) <= b.size();
}

inline std::uint32_t be32(std::span<const std::uint8_t> b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// Width and height from the header alone (-1 where the header is too short), read here rather than by
// stbi_info, which refuses very large images with the same message as broken ones.
inline std::pair<std::int64_t, std::int64_t> header_size(ImageFormat fmt, std::span<const std::uint8_t> b) {
  if (fmt == ImageFormat::png && b.size() >= 24 && std::memcmp(b.data() + 12, "IHDR", 4) == 0)
    return {be32(b, 16), be32(b, 20)};
  if (fmt == ImageFormat::bmp && b.size() >= 26) {
    if (le(b, 14, 4) == 12) return {le(b, 18, 2), le(b, 20, 2)};
    const auto w = std::int32_t(le(b, 18, 4)), h = std::int32_t(le(b, 22, 4));  // h < 0: top-down rows
    return {std::abs(std::int64_t(w)), std::abs(std::int64_t(h))};
  }
  if (fmt == ImageFormat::jpeg) return jpeg_size(b);
  return {-1, -1};
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

}  // namespace detail

// Decodes an in-memory JPEG, PNG or BMP to RGB; `name` (a path or key) goes into every error message.
// Throws ImageError (an evaclip::Error) for unsupported, corrupt, truncated, empty or oversized images.
inline RgbImage decode_image(std::span<const std::uint8_t> bytes, const std::string& name,
                             const DecodeOptions& opt = {}) {
  using detail::image_fail;
  if (bytes.empty()) image_fail(DecodeFailure::empty, name, "empty file");
  const ImageFormat fmt = sniff_format(bytes);
  if (fmt == ImageFormat::unknown) image_fail(DecodeFailure::unsupported, name, "unsupported format (JPEG, PNG, BMP)");
  if (bytes.size() > std::size_t(INT32_MAX)) image_fail(DecodeFailure::too_large, name, "file over 2 GiB");
  const auto [hw, hh] = detail::header_size(fmt, bytes);
  if (hw < 0 || hh < 0) image_fail(DecodeFailure::corrupt, name, "corrupt or truncated header (no size)");
  if (hw == 0 || hh == 0) image_fail(DecodeFailure::empty, name, "zero-sized image");
  if (hw > opt.max_pixels / hh)  // hw * hh > max_pixels, without overflow (PNG sizes go up to 2^31 - 1)
    image_fail(DecodeFailure::too_large, name,
               std::to_string(hw) + "x" + std::to_string(hh) + " exceeds the limit of " +
                   std::to_string(opt.max_pixels) + " pixels (possible decompression bomb)");
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = int(bytes.size());
  int w = 0, h = 0, comp = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &comp))
    image_fail(DecodeFailure::corrupt, name, std::string("corrupt header (") + stbi_failure_reason() + ")");
  if (w != hw || h != hh) image_fail(DecodeFailure::corrupt, name, "inconsistent header");
  if (fmt == ImageFormat::bmp && !detail::bmp_complete(bytes, w, h))
    image_fail(DecodeFailure::corrupt, name, "truncated BMP (pixel data shorter than the header says)");

  RgbImage out(w, h);
  int dw = 0, dh = 0, dc = 0;
  if (fmt == ImageFormat::png && comp == 1 && stbi_is_16_bit_from_memory(data, len)) {
    std::unique_ptr<stbi_us, detail::StbFree> px(stbi_load_16_from_memory(data, len, &dw, &dh, &dc, 1));
    if (!px) image_fail(DecodeFailure::corrupt, name, std::string("corrupt data (") + stbi_failure_reason() + ")");
    for (std::size_t i = 0; i < std::size_t(w) * h; ++i)
      out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = std::uint8_t(std::min<int>(px.get()[i], 255));
    return out;
  }
  std::unique_ptr<stbi_uc, detail::StbFree> px(stbi_load_from_memory(data, len, &dw, &dh, &dc, 3));
  if (!px) image_fail(DecodeFailure::corrupt, name, std::string("corrupt data (") + stbi_failure_reason() + ")");
  if (dw != w || dh != h) image_fail(DecodeFailure::corrupt, name, "size changed while decoding");
  std::memcpy(out.pixels.data(), px.get(), out.pixels.size());
  return out;
}

// Reads the whole file; an unreadable file is DecodeFailure::io.
inline std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) detail::image_fail(DecodeFailure::io, path.string(), "cannot open file");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) detail::image_fail(DecodeFailure::io, path.string(), "read error");
  return bytes;
}

inline RgbImage load_image(const std::filesystem::path& path, const DecodeOptions& opt = {}) {
  return decode_image(read_file_bytes(path), path.string(), opt);
}

// For dataset loaders that skip bad samples: the image, or why not (failure + the ImageError's message).
struct LoadResult {
  std::optional<RgbImage> image;
  DecodeFailure failure = DecodeFailure::io;  // meaningful only without an image
  std::string error;
  explicit operator bool() const { return image.has_value(); }
};

inline LoadResult try_load_image(const std::filesystem::path& path, const DecodeOptions& opt = {}) {
  try {
    return {load_image(path, opt), DecodeFailure::io, {}};
  } catch (const ImageError& e) {
    return {std::nullopt, e.kind(), e.what()};
  }
}

}  // namespace evaclip::image
