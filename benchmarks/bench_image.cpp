// bench_image.cpp — image decode + CLIP preprocessing throughput, one core: images/s (items_per_second).
//
// Images: the *.jpg and *.png files in $EVACLIP_BENCH_IMAGES (benchmarks/peers/image_peer.py writes a set
// of 500x375 ones and runs this program on them next to Pillow + torchvision), else two fixtures from
// tests/data/images. Files are read into memory first, so disk I/O is not timed; each iteration takes
// the next file. S = 224 (the B and L towers).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "evaclip/image/decode.hpp"
#include "evaclip/image/transform.hpp"

using namespace evaclip;
using namespace evaclip::image;

namespace {
constexpr int S = 224;

struct File {
  std::string name;
  std::vector<std::uint8_t> bytes;
};

std::vector<File> files(const std::string& ext) {
  std::filesystem::path dir;
  if (const char* env = std::getenv("EVACLIP_BENCH_IMAGES")) dir = env;
  std::vector<File> out;
  if (!dir.empty()) {
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ext) out.push_back({e.path().string(), read_file_bytes(e.path())});
  } else {
    const auto data = std::filesystem::path(__FILE__).parent_path().parent_path() / "tests" / "data" / "images";
    const auto p = data / (ext == ".jpg" ? "photo_400x300.jpg" : "rgb_256x192.png");
    out.push_back({p.string(), read_file_bytes(p)});
  }
  std::sort(out.begin(), out.end(), [](const File& a, const File& b) { return a.name < b.name; });
  return out;
}

// Times f(i) for i = 0, 1, ... cycling over n inputs; items = images.
template <class F>
void run(benchmark::State& st, std::size_t n, F&& f) {
  if (n == 0) {
    st.SkipWithError("no images");
    return;
  }
  std::size_t i = 0;
  for (auto _ : st) benchmark::DoNotOptimize(f(i++ % n));
  st.SetItemsProcessed(std::int64_t(st.iterations()));
}

void BM_decode_eval(benchmark::State& st, const std::string& ext) {
  const auto fs = files(ext);
  run(st, fs.size(), [&](std::size_t i) { return eval_transform(decode_image(fs[i].bytes, fs[i].name), S).raw(); });
}

void BM_decode_train(benchmark::State& st, const std::string& ext) {
  const auto fs = files(ext);
  Rng rng(1);
  run(st, fs.size(),
      [&](std::size_t i) { return train_transform(decode_image(fs[i].bytes, fs[i].name), S, rng).raw(); });
}

void BM_decode_only(benchmark::State& st, const std::string& ext) {
  const auto fs = files(ext);
  run(st, fs.size(), [&](std::size_t i) { return decode_image(fs[i].bytes, fs[i].name).pixels[0]; });
}

void BM_eval_only(benchmark::State& st, const std::string& ext) {
  std::vector<RgbImage> ims;
  for (const File& f : files(ext)) ims.push_back(decode_image(f.bytes, f.name));
  run(st, ims.size(), [&](std::size_t i) { return eval_transform(ims[i], S).raw(); });
}
}  // namespace

BENCHMARK_CAPTURE(BM_decode_eval, jpeg, std::string(".jpg"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_decode_eval, png, std::string(".png"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_decode_train, jpeg, std::string(".jpg"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_decode_only, jpeg, std::string(".jpg"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_eval_only, jpeg, std::string(".jpg"))->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
