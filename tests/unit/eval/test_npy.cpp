// Tests io/npy.hpp: save_npy writes byte-for-byte what numpy.save wrote for the same arrays
// (tests/data/eval/npy/, from tools/make_eval_fixtures.py: values (i - 3) * 0.25, integers i - 3) for
// every dtype, 0-d, 1-d, empty and 4-d shapes; a non-contiguous view is written in logical order; bf16 is
// refused.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/io/npy.hpp"

using namespace evaclip;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << p;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Tensor arange_like_numpy(const Shape& shape, DType dt) {
  std::vector<double> v(std::size_t(numel(shape)));
  const bool integer = dt == DType::i64 || dt == DType::i32;
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = integer ? double(i) - 3 : (double(i) - 3) * 0.25;
  return Tensor::from(shape, dt, v);
}

std::string tmp(const std::string& name) { return (fs::path(::testing::TempDir()) / name).string(); }

}  // namespace

TEST(Npy, MatchesNumpySaveByteForByte) {
  const std::pair<const char*, std::pair<Shape, DType>> cases[] = {
      {"f32_2x3", {{2, 3}, DType::f32}}, {"f32_0x4", {{0, 4}, DType::f32}},           {"f64_5", {{5}, DType::f64}},
      {"i64_scalar", {{}, DType::i64}},  {"f32_2x1x3x2", {{2, 1, 3, 2}, DType::f32}}, {"i32_4x4", {{4, 4}, DType::i32}},
      {"f16_3", {{3}, DType::f16}},
  };
  for (const auto& [name, spec] : cases) {
    SCOPED_TRACE(name);
    const std::string out = tmp(std::string(name) + ".npy");
    save_npy(out, arange_like_numpy(spec.first, spec.second));
    EXPECT_EQ(read_bytes(out), read_bytes(test::data_path(std::string("eval/npy/") + name + ".npy")));
  }
}

TEST(Npy, WritesViewsInLogicalOrder) {
  // The transpose of a (3, 2) array holding (i - 3) * 0.25 in its (2, 3) order is the f32_2x3 fixture.
  std::vector<double> v{-0.75, 0.0, -0.5, 0.25, -0.25, 0.5};
  const Tensor t = Tensor::from({3, 2}, DType::f32, v).transpose(0, 1);
  const std::string out = tmp("view.npy");
  save_npy(out, t);
  EXPECT_EQ(read_bytes(out), read_bytes(test::data_path("eval/npy/f32_2x3.npy")));
}

TEST(Npy, RefusesBfloat16) {
  const std::string out = tmp("bf16.npy");
  EXPECT_THROW_MSG(save_npy(out, Tensor::zeros({2}, DType::bf16)), "bf16 has no NumPy dtype");
  EXPECT_FALSE(fs::exists(out));
}
