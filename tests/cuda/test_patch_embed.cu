// Tests cuda::patch_embed_forward (ops/cuda/patch_embed.cuh) against cpu::patch_embed_forward on the same
// random images and weights: B/16 and L/14 at 224 px (batch 8), odd and non-square geometries whose patch
// width takes each vector width of the im2col (16 bytes down to one element), misaligned images, no bias;
// and the im2col alone, which must equal the CPU's bit for bit.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/patch_embed.hpp"
#include "evaclip/ops/cuda/patch_embed.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
using namespace evaclip::gpu_test;

namespace {

// `offset` elements of padding before the images shift their device pointer off 16-byte alignment.
template <class T>
::testing::AssertionResult patch_embed_matches(const cpu::PatchGeometry& g, std::int64_t D, bool bias,
                                               std::uint64_t seed, std::int64_t offset = 0) {
  const DType dt = dtype_of<T>();
  const std::int64_t pixels = g.B * g.C * g.H * g.W;
  const Tensor images = host_randn({offset + pixels}, dt, seed);
  const Tensor w = host_randn({D, g.C, g.P, g.P}, dt, seed + 1, 0.05), b = host_randn({D}, dt, seed + 2);
  Tensor ref = Tensor::empty({g.B, g.tokens(), D}, dt);
  cpu::patch_embed_forward<float, T>(cpu::Backend{}, ref.data<T>(), images.data<T>() + offset, w.data<T>(),
                                     bias ? b.data<T>() : nullptr, g, D);
  const Tensor di = images.to(Device::cuda), dw = w.to(Device::cuda), db = b.to(Device::cuda);
  Tensor y = Tensor::empty({g.B, g.tokens(), D}, dt, Device::cuda);
  cuda::patch_embed_forward<float, T>(cuda::Backend{}, y.data<T>(), di.data<T>() + offset, dw.data<T>(),
                                      bias ? db.data<T>() : nullptr, g, D);
  return close_to_reference(ref, y, tolerance<T>());
}

template <class T>
class PatchEmbed : public GpuTest {};
TYPED_TEST_SUITE(PatchEmbed, StorageTypes);

// P = 16, 8, 4, 2, 14, 6, 3, 1: every vector width from 16 bytes down to one element, for each type.
const cpu::PatchGeometry kOddGeometries[] = {
    {2, 3, 32, 48, 16}, {3, 2, 16, 8, 8},  {1, 3, 12, 20, 4}, {2, 1, 6, 4, 2},
    {2, 3, 28, 42, 14}, {1, 2, 18, 12, 6}, {3, 1, 9, 6, 3},   {1, 2, 3, 5, 1},
};

}  // namespace

TYPED_TEST(PatchEmbed, Im2colEqualsCpuBitForBit) {
  using T = TypeParam;
  const DType dt = dtype_of<T>();
  std::uint64_t seed = 10;
  for (const auto& g : kOddGeometries)
    for (std::int64_t offset : {0, 1}) {
      const Tensor images = host_randn({offset + g.B * g.C * g.H * g.W}, dt, seed += 3);
      Tensor ref = Tensor::empty({g.rows(), g.patch_size()}, dt);
      cpu::im2col_patches(ref.data<T>(), images.data<T>() + offset, g);
      const Tensor di = images.to(Device::cuda);
      Tensor cols = Tensor::empty({g.rows(), g.patch_size()}, dt, Device::cuda);
      cuda::detail::im2col_patches(cuda::Backend{}, cols.data<T>(), di.data<T>() + offset, g);
      const Tensor got = cols.to(Device::cpu);
      EXPECT_EQ(std::memcmp(ref.raw(), got.raw(), ref.nbytes()), 0)
          << "P=" << g.P << " C=" << g.C << " H=" << g.H << " W=" << g.W << " offset " << offset;
    }
}

TYPED_TEST(PatchEmbed, OddGeometries) {
  using T = TypeParam;
  std::uint64_t seed = 100;
  for (const auto& g : kOddGeometries)
    for (bool bias : {true, false})
      EXPECT_TRUE(patch_embed_matches<T>(g, 7, bias, seed += 3)) << "P=" << g.P << " bias=" << bias;
}

TYPED_TEST(PatchEmbed, MisalignedImages) {
  using T = TypeParam;
  EXPECT_TRUE(patch_embed_matches<T>({2, 3, 32, 32, 16}, 24, true, 200, 1));
  EXPECT_TRUE(patch_embed_matches<T>({2, 3, 28, 28, 14}, 24, true, 210, 3));
}

// EVA02-CLIP-B/16 (768 wide) and L/14 (1024 wide) at 224 px, batch 8.
TYPED_TEST(PatchEmbed, ModelShapes) {
  using T = TypeParam;
  EXPECT_TRUE(patch_embed_matches<T>({8, 3, 224, 224, 16}, 768, true, 300)) << "B/16";
  EXPECT_TRUE(patch_embed_matches<T>({8, 3, 224, 224, 14}, 1024, true, 310)) << "L/14";
}

TEST(PatchEmbedArguments, ErrorsNameTheOp) {
  const float x = 0;
  float y = 0;
  auto what = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  // These fail before any CUDA call: no device needed.
  EXPECT_NE(what([&] {
              cuda::patch_embed_forward<float, float>(cuda::Backend{}, &y, &x, &x, &x, {1, 3, 10, 16, 4}, 8);
            }).find("patch_embed_forward: bad geometry"),
            std::string::npos);
  EXPECT_NE(what([&] {
              cuda::patch_embed_forward<float, float>(cuda::Backend{}, &y, nullptr, &x, &x, {1, 3, 16, 16, 4}, 8);
            }).find("patch_embed_forward: null images"),
            std::string::npos);
  EXPECT_NE(what([&] {
              cuda::patch_embed_backward<float, float>(cuda::Backend{}, &y, &y, &y, &x, &x, &x, {1, 3, 16, 16, 4}, 8);
            }).find("patch_embed_backward: the CUDA backward is not built"),
            std::string::npos);
}
