// image_fixtures.hpp — defines the image tests' helpers: the fixture directory, its manifest, and
// max / mean absolute differences between two 8-bit images.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/image/decode.hpp"

namespace evaclip::test {

inline std::filesystem::path image_data_dir() { return data_path("images"); }

// One line of manifest.txt (written by tools/make_image_fixtures.py).
struct ImageCase {
  std::string kind, input, op, ref;  // kind: "exact" or "jpeg"; op: eval, crop, center, decode
  int size = 0;
  int top = 0, left = 0, height = 0, width = 0;  // op == crop
};

inline std::vector<ImageCase> image_cases() {
  std::ifstream f(image_data_dir() / "manifest.txt");
  EXPECT_TRUE(f.good()) << "missing " << (image_data_dir() / "manifest.txt");
  std::vector<ImageCase> cases;
  for (std::string line; std::getline(f, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    ImageCase c;
    is >> c.kind >> c.input >> c.op >> c.size >> c.ref;
    if (c.op == "crop") is >> c.top >> c.left >> c.height >> c.width;
    cases.push_back(c);
  }
  return cases;
}

struct ImageDiff {
  int max = 0;
  double mean = 0;
};

inline ImageDiff image_diff(const image::RgbImage& ref, const image::RgbImage& got) {
  EXPECT_EQ(ref.width, got.width);
  EXPECT_EQ(ref.height, got.height);
  if (ref.pixels.size() != got.pixels.size()) return {256, 256.0};
  ImageDiff d;
  double sum = 0;
  for (std::size_t i = 0; i < ref.pixels.size(); ++i) {
    const int e = std::abs(int(ref.pixels[i]) - int(got.pixels[i]));
    d.max = std::max(d.max, e);
    sum += e;
  }
  d.mean = ref.pixels.empty() ? 0.0 : sum / double(ref.pixels.size());
  return d;
}

}  // namespace evaclip::test
