// Tests the core on a CUDA device: bf16/f16 conversions in a kernel are bit-identical to the host ones,
// tensors round-trip host -> device -> host, and the CUDA caching allocator reuses blocks. Every test
// skips cleanly when no device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <cuda_runtime.h>

#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/half.hpp"
#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"

using namespace evaclip;

namespace {

// Decodes every 16-bit pattern and encodes the decoded value back, in both formats.
__global__ void decode_encode_kernel(const std::uint16_t* in, float* f16_val, std::uint16_t* f16_back, float* bf16_val,
                                     std::uint16_t* bf16_back, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float h = static_cast<float>(f16::from_bits(in[i]));
  const float b = static_cast<float>(bf16::from_bits(in[i]));
  f16_val[i] = h;
  bf16_val[i] = b;
  f16_back[i] = f16(h).bits;
  bf16_back[i] = bf16(b).bits;
}

__global__ void encode_kernel(const float* x, std::uint16_t* h, std::uint16_t* b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  h[i] = f16::from_float(x[i]);
  b[i] = convert<bf16>(x[i]).bits;
}

std::uint32_t bits32(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float from_bits32(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

void check_cuda(cudaError_t e, const char* what) { ASSERT_EQ(e, cudaSuccess) << what << ": " << cudaGetErrorString(e); }

Tensor host_u16(const std::vector<std::uint16_t>& v) {
  // i32 host tensor sized to hold the 16-bit words: Tensor has no u16 dtype, only the bytes matter here.
  Tensor t = Tensor::empty({std::int64_t((v.size() + 1) / 2)}, DType::i32);
  std::memcpy(t.raw(), v.data(), v.size() * 2);
  return t;
}

class CudaCore : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  }
};

}  // namespace

TEST_F(CudaCore, HalfDecodeEncodeMatchesHostForAllPatterns) {
  constexpr int n = 1 << 16;
  std::vector<std::uint16_t> pat(n);
  for (int i = 0; i < n; ++i) pat[i] = std::uint16_t(i);
  const Tensor in = host_u16(pat).to(Device::cuda);
  Tensor fv = Tensor::empty({n}, DType::f32, Device::cuda), bv = Tensor::empty({n}, DType::f32, Device::cuda);
  Tensor fb = Tensor::empty({n / 2}, DType::i32, Device::cuda), bb = Tensor::empty({n / 2}, DType::i32, Device::cuda);
  decode_encode_kernel<<<n / 256, 256>>>(static_cast<const std::uint16_t*>(in.raw()), static_cast<float*>(fv.raw()),
                                         static_cast<std::uint16_t*>(fb.raw()), static_cast<float*>(bv.raw()),
                                         static_cast<std::uint16_t*>(bb.raw()), n);
  check_cuda(cudaGetLastError(), "decode_encode_kernel launch");
  check_cuda(cudaDeviceSynchronize(), "decode_encode_kernel");
  const Tensor fv_h = fv.to(Device::cpu), bv_h = bv.to(Device::cpu), fb_h = fb.to(Device::cpu), bb_h = bb.to(Device::cpu);
  const float* fvp = fv_h.data<float>();
  const float* bvp = bv_h.data<float>();
  const auto* fbp = static_cast<const std::uint16_t*>(fb_h.raw());
  const auto* bbp = static_cast<const std::uint16_t*>(bb_h.raw());
  for (int i = 0; i < n; ++i) {
    const auto b = std::uint16_t(i);
    const float hf = static_cast<float>(f16::from_bits(b)), hb = static_cast<float>(bf16::from_bits(b));
    ASSERT_EQ(bits32(fvp[i]), bits32(hf)) << "f16 decode " << std::hex << i;
    ASSERT_EQ(bits32(bvp[i]), bits32(hb)) << "bf16 decode " << std::hex << i;
    ASSERT_EQ(fbp[i], f16(hf).bits) << "f16 encode " << std::hex << i;
    ASSERT_EQ(bbp[i], bf16(hb).bits) << "bf16 encode " << std::hex << i;
  }
}

TEST_F(CudaCore, HalfEncodeMatchesHostOnFloatSweep) {
  std::vector<float> xs;
  for (std::uint64_t u = 0; u < (std::uint64_t(1) << 32); u += 251) xs.push_back(from_bits32(std::uint32_t(u)));
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {  // every rounding boundary of both formats, and its neighbours
    for (const float a : {static_cast<float>(f16::from_bits(std::uint16_t(h))), static_cast<float>(bf16::from_bits(std::uint16_t(h)))}) {
      if (!std::isfinite(a)) continue;
      const float next = std::nextafter(a, std::signbit(a) ? -INFINITY : INFINITY);
      xs.push_back(a);
      xs.push_back(next);
      xs.push_back(std::nextafter(a, 0.0f));
    }
    for (const bool is_f16 : {true, false}) {
      const auto lo = std::uint16_t(h), hi = std::uint16_t(h + 1);
      const float a = is_f16 ? static_cast<float>(f16::from_bits(lo)) : static_cast<float>(bf16::from_bits(lo));
      const float b = is_f16 ? static_cast<float>(f16::from_bits(hi)) : static_cast<float>(bf16::from_bits(hi));
      if (!std::isfinite(a) || !std::isfinite(b) || std::signbit(a) != std::signbit(b)) continue;
      const float mid = float((double(a) + double(b)) / 2);
      for (const float x : {mid, std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY)}) xs.push_back(x);
    }
  }
  const int n = int(xs.size());
  const Tensor x = Tensor::from({n}, DType::f32, xs).to(Device::cuda);
  Tensor h = Tensor::empty({(n + 1) / 2}, DType::i32, Device::cuda), b = Tensor::empty({(n + 1) / 2}, DType::i32, Device::cuda);
  encode_kernel<<<(n + 255) / 256, 256>>>(static_cast<const float*>(x.raw()), static_cast<std::uint16_t*>(h.raw()),
                                          static_cast<std::uint16_t*>(b.raw()), n);
  check_cuda(cudaGetLastError(), "encode_kernel launch");
  check_cuda(cudaDeviceSynchronize(), "encode_kernel");
  const Tensor hh = h.to(Device::cpu), bh = b.to(Device::cpu);
  const auto* hp = static_cast<const std::uint16_t*>(hh.raw());
  const auto* bp = static_cast<const std::uint16_t*>(bh.raw());
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(hp[i], f16(xs[i]).bits) << "f16 of bits " << std::hex << bits32(xs[i]);
    ASSERT_EQ(bp[i], bf16(xs[i]).bits) << "bf16 of bits " << std::hex << bits32(xs[i]);
  }
}

TEST_F(CudaCore, TensorRoundTripsThroughDevice) {
  Rng rng(11);
  for (const DType dt : {DType::f32, DType::bf16, DType::f16, DType::f64, DType::i64}) {
    const Tensor x = Tensor::randn({3, 5, 7}, dt, rng);
    const Tensor d = x.to(Device::cuda);
    EXPECT_EQ(d.device(), Device::cuda);
    EXPECT_EQ(d.shape(), x.shape());
    EXPECT_EQ(d.dtype(), dt);
    EXPECT_TRUE(d.to(Device::cuda).shares_storage(d));
    Tensor d2 = Tensor::empty(x.shape(), dt, Device::cuda);
    d2.copy_(d);  // device -> device
    const Tensor back = d2.to(Device::cpu);
    EXPECT_EQ(back.device(), Device::cpu);
    ASSERT_EQ(std::memcmp(back.raw(), x.raw(), x.nbytes()), 0) << dtype_name(dt);
  }
  // A non-contiguous host view goes up in logical order.
  const Tensor x = Tensor::randn({4, 6}, DType::f32, rng);
  const Tensor t = x.transpose(0, 1).to(Device::cuda);
  EXPECT_EQ(t.to(Device::cpu).to_vector(), x.transpose(0, 1).contiguous().to_vector());
  EXPECT_EQ(t.to_vector(), x.transpose(0, 1).to_vector());  // to_vector fetches device tensors itself
  Tensor wrong = Tensor::empty({4, 6}, DType::bf16, Device::cuda);
  EXPECT_THROW(wrong.copy_(x), Error);  // cross-device copies do not convert dtypes
}

TEST_F(CudaCore, CachingAllocatorReusesBlocks) {
  auto& alloc = cuda_allocator();
  void* first = nullptr;
  {
    const Tensor a = Tensor::empty({1000, 37}, DType::f32, Device::cuda);
    first = a.raw();
  }
  const auto before = alloc.stats();
  EXPECT_GE(before.cached, std::size_t(1000 * 37 * 4));
  {
    const Tensor b = Tensor::empty({1000, 37}, DType::f32, Device::cuda);  // same size class
    EXPECT_EQ(b.raw(), first);
    const auto during = alloc.stats();
    EXPECT_EQ(during.raw_allocs, before.raw_allocs);
    EXPECT_EQ(during.hits, before.hits + 1);
    EXPECT_GE(during.in_use, before.in_use + 1000 * 37 * 4);
  }
  EXPECT_EQ(alloc.stats().in_use, before.in_use);
  alloc.empty_cache();
  EXPECT_EQ(alloc.stats().cached, 0u);
  const Tensor c = Tensor::empty({1000, 37}, DType::f32, Device::cuda);
  EXPECT_TRUE(c.defined());
  EXPECT_EQ(alloc.stats().raw_allocs, before.raw_allocs + 1);
}
