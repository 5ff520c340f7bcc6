// Tests patch_embed: forward against the direct convolution sum, gradients of images, weight and bias
// against finite differences, bf16 against fp32, and shape errors.
#include "common/test_util.hpp"
#include "evaclip/ops/patch_embed.hpp"

using namespace evaclip;
using evaclip::test::allclose;
using evaclip::test::randn;

namespace {
// y[b, py·Gw + px, d] = bias[d] + sum_{c, ky, kx} w[d, c, ky, kx] · img[b, c, py·P + ky, px·P + kx].
Tensor conv_reference(const Tensor& img, const Tensor& w, const Tensor* bias, std::int64_t P) {
  const std::int64_t B = img.size(0), C = img.size(1), H = img.size(2), W = img.size(3), D = w.size(0);
  const std::int64_t Gh = H / P, Gw = W / P;
  Tensor y = Tensor::empty({B, Gh * Gw, D}, DType::f64);
  auto iv = img.view<double>(), wv = w.view<double>(), yv = y.view<double>();
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t py = 0; py < Gh; ++py)
      for (std::int64_t px = 0; px < Gw; ++px)
        for (std::int64_t d = 0; d < D; ++d) {
          double acc = bias ? bias->view<double>()(d) : 0.0;
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t ky = 0; ky < P; ++ky)
              for (std::int64_t kx = 0; kx < P; ++kx) acc += wv(d, c, ky, kx) * iv(b, c, py * P + ky, px * P + kx);
          yv(b, py * Gw + px, d) = acc;
        }
  return y;
}
}  // namespace

TEST(PatchEmbed, ForwardMatchesDirectConvolution) {
  // H != W (2 x 3 grid) so a swapped token order or grid width shows up.
  const Tensor img = randn({2, 3, 8, 12}, DType::f64, 1), w = randn({5, 3, 4, 4}, DType::f64, 2);
  const Tensor b = randn({5}, DType::f64, 3);
  Tape<fp64> tape;
  const Var y = patch_embed(tape, Var(img), Var(w), Var(b), 4);
  EXPECT_TRUE(allclose(conv_reference(img, w, &b, 4), y.value(), 1e-12, 1e-12));
  const Var y0 = patch_embed(tape, Var(img), Var(w), Var(), 4);
  EXPECT_TRUE(allclose(conv_reference(img, w, nullptr, 4), y0.value(), 1e-12, 1e-12));
}

TEST(PatchEmbed, GradientsMatchFiniteDifferences) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return patch_embed(t, v[0], v[1], v[2], 2); };
  const auto rep =
      gradcheck(f, {randn({2, 2, 4, 6}, DType::f64, 4), randn({3, 2, 2, 2}, DType::f64, 5), randn({3}, DType::f64, 6)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(PatchEmbed, WithoutBias) {
  auto f = [](Tape<fp64>& t, const std::vector<Var>& v) { return patch_embed(t, v[0], v[1], Var(), 3); };
  const auto rep = gradcheck(f, {randn({1, 3, 6, 3}, DType::f64, 7), randn({4, 3, 3, 3}, DType::f64, 8)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(PatchEmbed, WeightGradientWithoutImageGradient) {
  // Images are data (no grad): only dw and db are computed; they must still be right.
  const Tensor img = randn({2, 1, 2, 2}, DType::f64, 9);
  Tape<fp64> tape;
  const Var w(randn({2, 1, 2, 2}, DType::f64, 10), true), b(randn({2}, DType::f64, 11), true);
  tape.backward(patch_embed(tape, Var(img), w, b, 2));  // one patch per image, dy = 1
  auto iv = img.view<double>();
  std::vector<double> want;
  for (int d = 0; d < 2; ++d)
    for (int ky = 0; ky < 2; ++ky)
      for (int kx = 0; kx < 2; ++kx) want.push_back(iv(0, 0, ky, kx) + iv(1, 0, ky, kx));
  EXPECT_TRUE(allclose(Tensor::from({2, 1, 2, 2}, DType::f64, want), w.grad(), 1e-14, 1e-14));
  EXPECT_TRUE(allclose(Tensor::full({2}, DType::f64, 2.0), b.grad(), 0, 0));
}

TEST(PatchEmbed, Bf16MatchesFp32WithinTolerance) {
  // 48-term dot products of bf16-rounded N(0, 1) values, accumulated in fp32, then rounded to bf16: the
  // error is the output rounding (2^-9 |y|, |y| up to ~16) plus the inputs' (about 2^-9 sqrt(2 · 48) ≈ 0.02).
  // Measured worst: 0.06, 70% of this bound.
  const Tensor img = randn({2, 3, 8, 8}, DType::f32, 12), w = randn({16, 3, 4, 4}, DType::f32, 13);
  const Tensor b = randn({16}, DType::f32, 14);
  Tape<fp32> t32;
  Tape<bf16_mixed> t16;
  const Var y32 = patch_embed(t32, Var(img), Var(w), Var(b), 4);
  const Var y16 = patch_embed(t16, Var(img.to(DType::bf16)), Var(w.to(DType::bf16)), Var(b.to(DType::bf16)), 4);
  EXPECT_EQ(y16.dtype(), DType::bf16);
  EXPECT_TRUE(allclose(y32.value(), y16.value(), 8e-2, 2e-2));
}

TEST(PatchEmbed, BadShapesNameTheOp) {
  Tape<fp32> tape;
  const Var w(randn({5, 3, 4, 4}, DType::f32)), b(randn({5}, DType::f32));
  EXPECT_THROW_MSG(patch_embed(tape, Var(randn({1, 3, 8, 10}, DType::f32)), w, b, 4),
                   "patch_embed: images (1, 3, 8, 10): H = 8 and W = 10 must be multiples of the patch size 4");
  EXPECT_THROW_MSG(patch_embed(tape, Var(randn({1, 1, 8, 8}, DType::f32)), w, b, 4),
                   "patch_embed: weight has shape (5, 3, 4, 4), expected (5, 1, 4, 4)");
  EXPECT_THROW_MSG(patch_embed(tape, Var(randn({1, 3, 8, 8}, DType::f32)), w, Var(randn({4}, DType::f32)), 4),
                   "patch_embed: bias has shape (4,), expected (5,)");
  EXPECT_THROW_MSG(patch_embed(tape, Var(randn({3, 8, 8}, DType::f32)), w, b, 4),
                   "patch_embed: images has shape (3, 8, 8), expected (B, C, H, W)");
}
