// synthetic_shapes.hpp — defines the built-in demo data set: coloured shapes of random size and position on
// textured backgrounds, captioned from templates, written as real PNG files plus the TSV and class files the
// training and zero-shot programs read.
//
// Layout written under `dir`:
//   train/<i>.png, train.tsv       (filepath \t title; paths relative to the TSV, as the CSV loader resolves them)
//   test/<class>/<i>.png           (held-out images, one folder per class: the ImageNet folder layout)
//   classnames.txt, templates.txt  (one class name per line in folder order; zero-shot prompts with "{}")
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "evaclip/core/random.hpp"
#include "evaclip/image/encode.hpp"
#include "evaclip/io/file.hpp"

namespace evaclip::data {

struct SyntheticShapes {
  static constexpr std::array<const char*, 3> colors{"red", "green", "blue"};
  static constexpr std::array<const char*, 4> shapes{"circle", "square", "triangle", "cross"};
  static constexpr int num_classes() { return int(colors.size() * shapes.size()); }
  static std::string color(int k) { return colors[std::size_t(k) / shapes.size()]; }
  static std::string shape(int k) { return shapes[std::size_t(k) % shapes.size()]; }
  static std::string class_name(int k) { return color(k) + " " + shape(k); }
  // Folder names sort in class order (ImageNet-style folders are read sorted).
  static std::string folder_name(int k) {
    std::string n = class_name(k);
    std::replace(n.begin(), n.end(), ' ', '_');
    return (k < 10 ? "0" : "") + std::to_string(k) + "_" + n;
  }
};

struct SyntheticSpec {
  int train_images = 6000;
  int test_per_class = 25;
  int image_size = 40;  // stored size; the model's transform crops and resizes
  std::uint64_t seed = 4096;
};

// What a caption may say about a rendered image besides its class.
struct ShapeLayout {
  std::string size_word;   // "small", "large" or ""
  std::string where_word;  // "on the left", "in the middle", "on the right"
};

// Renders class k as an s x s image: a jittered colour shape at a random place and size over noise,
// stripes or a gradient. (s, s, 3)
inline image::RgbImage render_shape(int k, int s, Rng& rng, ShapeLayout* layout = nullptr) {
  static constexpr float rgb[3][3] = {{0.9f, 0.15f, 0.1f}, {0.1f, 0.8f, 0.2f}, {0.15f, 0.25f, 0.95f}};
  const int color = k / int(SyntheticShapes::shapes.size()), shape = k % int(SyntheticShapes::shapes.size());
  const float fs = float(s);
  const float r = fs * float(rng.uniform(0.15, 0.28));
  const float cx = float(rng.uniform(r + 1, fs - r - 1)), cy = float(rng.uniform(r + 1, fs - r - 1));
  const int texture = int(rng.uniform() * 3);
  const float base = float(rng.uniform(0.3, 0.7)), freq = float(rng.uniform(0.2, 0.8)),
              tilt = float(rng.uniform(-1, 1));
  image::RgbImage im(s, s);
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x) {
      const float dx = float(x) - cx, dy = float(y) - cy;
      bool in = false;
      switch (shape) {
        case 0: in = dx * dx + dy * dy <= r * r; break;
        case 1: in = std::abs(dx) <= r * 0.8f && std::abs(dy) <= r * 0.8f; break;
        case 2: in = dy <= r * 0.8f && dy >= -r && std::abs(dx) <= (dy + r) * 0.55f; break;
        default:
          in = (std::abs(dx) <= r * 0.3f && std::abs(dy) <= r) || (std::abs(dy) <= r * 0.3f && std::abs(dx) <= r);
      }
      float bg = base;
      if (texture == 1) bg += 0.12f * std::sin(freq * (float(x) + tilt * float(y)));
      if (texture == 2) bg += 0.25f * (float(x + y) / (2 * fs) - 0.5f);
      for (int c = 0; c < 3; ++c) {
        const float noise = float(rng.uniform(-0.15, 0.15));
        const float v = in ? rgb[color][c] + noise * 0.5f : bg + noise;
        im.row(y)[x * 3 + c] = std::uint8_t(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
      }
    }
  if (layout) {
    layout->size_word = r < fs * 0.2f ? "small" : r > fs * 0.24f ? "large" : "";
    layout->where_word = cx < fs * 0.4f ? "on the left" : cx > fs * 0.6f ? "on the right" : "in the middle";
  }
  return im;
}

// A caption from one of several templates; every one names colour and shape, some size and position.
inline std::string synthetic_caption(int k, const ShapeLayout& layout, Rng& rng) {
  const std::string cs = SyntheticShapes::class_name(k);
  const std::string sized = layout.size_word.empty() ? cs : layout.size_word + " " + cs;
  switch (int(rng.uniform() * 5)) {
    case 0: return "a photo of a " + cs + ".";
    case 1: return "a " + sized + " " + layout.where_word + ".";
    case 2: return "a drawing of the " + cs + " on a textured background.";
    case 3: return "there is a " + sized + " in this picture.";
    default: return "a " + cs + ".";
  }
}

inline const std::vector<std::string>& synthetic_templates() {
  static const std::vector<std::string> t{"a photo of a {}.", "a drawing of the {}.", "a {}.",
                                          "there is a {} in this picture."};
  return t;
}

struct SyntheticFiles {
  std::string train_tsv, test_folder, classnames, templates;
};

// Writes the data set; the same spec gives the same bytes.
inline SyntheticFiles write_synthetic_shapes(const std::string& dir, const SyntheticSpec& spec = {}) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  fs::create_directories(root / "train");
  auto write_text = [](const fs::path& p, const std::string& text) {
    io::AtomicFileWriter w(p.string(), "write_synthetic_shapes");
    w.write(text.data(), text.size());
    w.commit();
  };
  Rng rng(spec.seed);
  std::string tsv = "filepath\ttitle\n";
  for (int i = 0; i < spec.train_images; ++i) {
    const int k = int(rng.next_u64() % std::uint64_t(SyntheticShapes::num_classes()));
    ShapeLayout layout;
    const image::RgbImage im = render_shape(k, spec.image_size, rng, &layout);
    const std::string name = "train/" + std::to_string(i) + ".png";
    image::write_png((root / name).string(), im);
    tsv += name + "\t" + synthetic_caption(k, layout, rng) + "\n";
  }
  Rng test_rng(spec.seed ^ 0x9e3779b97f4a7c15ull);  // another stream: held-out images
  std::string names;
  for (int k = 0; k < SyntheticShapes::num_classes(); ++k) {
    const fs::path folder = root / "test" / SyntheticShapes::folder_name(k);
    fs::create_directories(folder);
    for (int i = 0; i < spec.test_per_class; ++i)
      image::write_png((folder / (std::to_string(i) + ".png")).string(), render_shape(k, spec.image_size, test_rng));
    names += SyntheticShapes::class_name(k) + "\n";
  }
  std::string templates;
  for (const auto& t : synthetic_templates()) templates += t + "\n";
  const SyntheticFiles files{(root / "train.tsv").string(), (root / "test").string(),
                             (root / "classnames.txt").string(), (root / "templates.txt").string()};
  write_text(files.train_tsv, tsv);
  write_text(files.classnames, names);
  write_text(files.templates, templates);
  return files;
}

}  // namespace evaclip::data
