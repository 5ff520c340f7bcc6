// transform.hpp — defines the CLIP eval and train image transforms (torchvision semantics) to a (3, S, S) tensor.
//
// Eval:  Resize(S, bicubic) on the short side -> CenterCrop(S) -> ToTensor -> Normalize(CLIP mean, std).
// Train: RandomResizedCrop(S, scale=(0.9, 1), ratio=(3/4, 4/3), bicubic) -> ToTensor -> Normalize.
// Rules as torchvision 0.14 applies them to PIL images: long side = int(S * long / short) (truncated);
// crop offsets round((H - S) / 2) with Python's round-half-to-even; a crop larger than the image pads
// with zeros first. The random crop box follows torchvision's sampling (10 tries, then a centre crop
// clamped to the ratio range), but draws from evaclip::Rng, so for a seed its boxes differ from torch's.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "evaclip/core/error.hpp"
#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/image/image.hpp"
#include "evaclip/image/resize.hpp"

namespace evaclip::image {

// OpenAI CLIP normalisation, on RGB in [0, 1].
inline constexpr std::array<float, 3> kClipMean{0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr std::array<float, 3> kClipStd{0.26862954f, 0.26130258f, 0.27577711f};

// Python's round(d / 2) for an integer d: halves go to the even neighbour.
inline int half_round_even(int d) {
  const int q = d >= 0 ? d / 2 : -((-d) / 2);  // truncated
  if (d % 2 == 0) return q;
  const int lo = d > 0 ? q : q - 1;  // d / 2 = lo + 0.5
  return lo % 2 == 0 ? lo : lo + 1;
}

// Size (w, h) after resizing the short side to s: the long side is int(s * long / short).
inline std::pair<int, int> short_side_size(int w, int h, int s) {
  EVACLIP_CHECK(w > 0 && h > 0 && s > 0, "short_side_size: image ", w, "x", h, ", size ", s);
  const auto scaled = [s](int lng, int shrt) { return int(double(std::int64_t(s) * lng) / double(shrt)); };
  return w <= h ? std::pair{s, scaled(h, w)} : std::pair{scaled(w, h), s};
}

// torchvision CenterCrop: out_w x out_h from the centre, zero-padding first where the image is smaller.
inline RgbImage center_crop(const ImageView& src, int out_w, int out_h) {
  EVACLIP_CHECK(out_w > 0 && out_h > 0, "center_crop: size ", out_w, "x", out_h);
  // Padding (left, top) as torchvision puts it: (crop - size) // 2 on the left/top, the rest after.
  const int pad_l = out_w > src.width ? (out_w - src.width) / 2 : 0;
  const int pad_t = out_h > src.height ? (out_h - src.height) / 2 : 0;
  const int pw = src.width + pad_l + (out_w > src.width ? (out_w - src.width + 1) / 2 : 0);
  const int ph = src.height + pad_t + (out_h > src.height ? (out_h - src.height + 1) / 2 : 0);
  const int left = half_round_even(pw - out_w), top = half_round_even(ph - out_h);
  RgbImage out(out_w, out_h);  // zeros
  for (int y = 0; y < out_h; ++y) {
    const int sy = y + top - pad_t;
    if (sy < 0 || sy >= src.height) continue;
    for (int x = 0; x < out_w; ++x) {
      const int sx = x + left - pad_l;
      if (sx < 0 || sx >= src.width) continue;
      for (int c = 0; c < 3; ++c) out.row(y)[3 * x + c] = src.row(sy)[3 * sx + c];
    }
  }
  return out;
}

// Eval geometry: short side to s (bicubic), then the centre s x s. (H, W, 3) -> (s, s, 3), still uint8.
// Only the kept window is resampled; the bytes equal a full resize followed by the crop.
inline RgbImage resize_center_crop(const ImageView& src, int s) {
  const auto [w, h] = short_side_size(src.width, src.height, s);
  return resize_bicubic(src, w, h, Window{half_round_even(w - s), half_round_even(h - s), s, s});
}

// A crop box in source pixels.
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

// torchvision RandomResizedCrop.get_params with evaclip::Rng: area fraction uniform in `scale`, log aspect
// ratio uniform in log(ratio), 10 tries to fit, else the centre crop clamped to the ratio range.
inline CropBox random_resized_crop_box(int width, int height, Rng& rng, std::pair<double, double> scale = {0.9, 1.0},
                                       std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0}) {
  EVACLIP_CHECK(width > 0 && height > 0, "random_resized_crop_box: image ", width, "x", height);
  const double area = double(width) * height;
  const double log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(scale.first, scale.second);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = int(std::nearbyint(std::sqrt(target * aspect)));  // round half even, like Python's round
    const int h = int(std::nearbyint(std::sqrt(target / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = int(rng.next_u64() % std::uint64_t(height - h + 1));
      const int left = int(rng.next_u64() % std::uint64_t(width - w + 1));
      return {top, left, h, w};
    }
  }
  const double in_ratio = double(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio.first) {
    h = int(std::nearbyint(w / ratio.first));
  } else if (in_ratio > ratio.second) {
    w = int(std::nearbyint(h * ratio.second));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

// Crop `box` and resize it to s x s (torchvision resized_crop: Pillow crop, then bicubic resize).
inline RgbImage resized_crop(const ImageView& src, const CropBox& box, int s) {
  return resize_bicubic(src.crop(box.top, box.left, box.height, box.width), s, s);
}

// ToTensor + Normalize in float32 as torchvision computes them: (v / 255 - mean) / std per channel.
// (H, W, 3) uint8 -> (3, H, W) f32
inline Tensor to_normalized_tensor(const ImageView& im, const std::array<float, 3>& mean = kClipMean,
                                   const std::array<float, 3>& stdev = kClipStd) {
  std::array<std::array<float, 256>, 3> lut;
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut[c][v] = (float(v) / 255.0f - mean[c]) / stdev[c];
  Tensor t = Tensor::empty({3, im.height, im.width}, DType::f32);
  float* out = t.data<float>();
  const std::size_t plane = std::size_t(im.height) * im.width;
  for (int y = 0; y < im.height; ++y) {
    const std::uint8_t* row = im.row(y);
    for (int x = 0; x < im.width; ++x) {
      const std::size_t i = std::size_t(y) * im.width + x;
      for (int c = 0; c < 3; ++c) out[c * plane + i] = lut[c][row[3 * x + c]];
    }
  }
  return t;
}

// The CLIP eval transform. (H, W, 3) uint8 -> (3, s, s) f32
inline Tensor eval_transform(const ImageView& im, int s) { return to_normalized_tensor(resize_center_crop(im, s)); }

// The CLIP train transform; the same Rng state gives the same crop. (H, W, 3) uint8 -> (3, s, s) f32
inline Tensor train_transform(const ImageView& im, int s, Rng& rng) {
  return to_normalized_tensor(resized_crop(im, random_resized_crop_box(im.width, im.height, rng), s));
}

}  // namespace evaclip::image
