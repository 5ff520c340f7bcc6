// Tests the CUDA rope_attention_forward (fused and unfused) and attention_forward against the CPU reference
// cpu::rope_attention_forward, o and lse, in fp32 (1e-5) and bf16/fp16 (1e-2): the model's head dims 64, 88,
// 112 (and 128), the fixtures' 8 and 16, odd 24 and 7, and 160; T in {1, 7, 77, 130, 197, 257, 577};
// batch*heads up to 8*12; with and without RoPE, prefix 0 and 1, shared and per-sample tables, causal and
// not; inputs at odd offsets (the fused kernel's fallback); the tape op on the CUDA backend; the backward's
// error. Outputs are poisoned (NaN) before each run, so an unwritten element fails.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "evaclip/ops/cpu/rope_attention.hpp"
#include "evaclip/ops/cuda/attention.cuh"
#include "evaclip/ops/rope_attention.hpp"
#include "evaclip/precision/policy.hpp"
#include "gpu_test_util.cuh"

using namespace evaclip;
using namespace evaclip::gpu_test;

namespace {

class CudaAttention : public GpuTest {};

struct Case {
  std::int64_t B, H, L, hd;
  bool rope;
  std::int64_t prefix;
  bool per_sample, causal;
  int offset = 0;  // elements added to every device pointer (not 16-byte aligned when odd)
};

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "B " << c.B << " H " << c.H << " L " << c.L << " hd " << c.hd << " rope " << c.rope << " prefix " << c.prefix
    << " per_sample " << c.per_sample << " causal " << c.causal << " offset " << c.offset;
  return s.str();
}

// Cosines and sines of independent random angles per element (not shared by a pair, so every table index is
// checked), bounded like the real tables.
std::pair<Tensor, Tensor> tables(const Case& c, std::uint64_t seed) {
  const Shape s = c.per_sample ? Shape{c.B, c.L - c.prefix, c.hd} : Shape{c.L - c.prefix, c.hd};
  Rng rng(seed);
  const Tensor angle = Tensor::uniform(s, DType::f64, rng, -3.2, 3.2);
  std::vector<double> cv, sv;
  for (double a : angle.to_vector()) cv.push_back(std::cos(a)), sv.push_back(std::sin(a));
  return {Tensor::from(s, DType::f32, cv), Tensor::from(s, DType::f32, sv)};
}

// A device copy of host tensor h whose data starts `offset` elements into its buffer.
struct DeviceBuf {
  Tensor buf;
  std::int64_t offset = 0;
  template <class T>
  T* ptr() const {
    return buf.data<T>() + offset;
  }
};
DeviceBuf to_device(const Tensor& h, int offset) {
  DeviceBuf d{Tensor::empty({h.numel() + 8}, h.dtype(), Device::cuda), offset};
  EXPECT_EQ(cudaMemcpy(static_cast<char*>(d.buf.raw()) + offset * dtype_size(h.dtype()), h.raw(), h.nbytes(),
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  return d;
}
// A poisoned device buffer (all bits set: NaN in every format) for n elements of dt at `offset`.
DeviceBuf poisoned(std::int64_t n, DType dt, int offset) {
  DeviceBuf d{Tensor::empty({n + 8}, dt, Device::cuda), offset};
  EXPECT_EQ(cudaMemset(d.buf.raw(), 0xff, d.buf.nbytes()), cudaSuccess);
  return d;
}
// Elements back from a device buffer as a host tensor of `shape`.
Tensor to_host(const DeviceBuf& d, const Shape& shape) {
  Tensor h = Tensor::empty(shape, d.buf.dtype());
  EXPECT_EQ(cudaMemcpy(h.raw(), static_cast<const char*>(d.buf.raw()) + d.offset * dtype_size(d.buf.dtype()),
                       h.nbytes(), cudaMemcpyDeviceToHost),
            cudaSuccess);
  return h;
}

// Runs both CUDA kernels and the CPU reference on the same inputs; compares o and lse.
template <class T>
void check(const Case& c, std::uint64_t seed) {
  SCOPED_TRACE(describe(c));
  const DType dt = dtype_of<T>();
  const Shape s{c.B, c.H, c.L, c.hd}, ls{c.B, c.H, c.L};
  const Tensor q = host_randn(s, dt, seed), k = host_randn(s, dt, seed + 1), v = host_randn(s, dt, seed + 2);
  const auto [cos, sin] = tables(c, seed + 3);
  const double scale = 1.0 / std::sqrt(double(c.hd));
  const float* hc = c.rope ? cos.data<float>() : nullptr;
  const float* hs = c.rope ? sin.data<float>() : nullptr;

  const AttentionArgs<T, float> host{.q = q.data<T>(), .k = k.data<T>(), .v = v.data<T>(), .cos = hc, .sin = hs,
                                     .batch = c.B, .heads = c.H, .tokens = c.L, .head_dim = c.hd, .prefix = c.prefix,
                                     .per_sample = c.per_sample, .causal = c.causal, .scale = scale};
  Tensor o_ref = Tensor::empty(s, dt), lse_ref = Tensor::empty(ls, DType::f32);
  cpu::rope_attention_forward(cpu::Backend{}, o_ref.data<T>(), lse_ref.data<float>(), host);

  const DeviceBuf dq = to_device(q, c.offset), dk = to_device(k, c.offset), dv = to_device(v, c.offset);
  const DeviceBuf dc = to_device(cos, c.offset), dsn = to_device(sin, c.offset);
  AttentionArgs<T, float> dev = host;
  dev.q = dq.ptr<T>(), dev.k = dk.ptr<T>(), dev.v = dv.ptr<T>();
  dev.cos = c.rope ? dc.ptr<float>() : nullptr, dev.sin = c.rope ? dsn.ptr<float>() : nullptr;
  for (const bool fused : {true, false}) {
    SCOPED_TRACE(fused ? "fused" : "unfused");
    const DeviceBuf o = poisoned(numel(s), dt, c.offset), lse = poisoned(numel(ls), DType::f32, 0);
    cuda::Backend be;
    be.fusion.attention = fused;
    cuda::rope_attention_forward(be, o.ptr<T>(), lse.ptr<float>(), dev);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_TRUE(close_to_reference(o_ref, to_host(o, s), tolerance<T>())) << "o";
    EXPECT_TRUE(close_to_reference(lse_ref, to_host(lse, ls), tolerance<T>())) << "lse";
  }
}

// {B, H, L, hd, rope, prefix, per_sample, causal}
const Case kHeadDims[] = {
    {2, 3, 197, 64, true, 1, false, false},   {2, 3, 197, 88, true, 1, false, false},
    {2, 3, 197, 112, true, 1, false, false},  {2, 3, 197, 128, true, 1, false, true},
    {2, 2, 17, 8, true, 1, false, false},     {2, 2, 50, 16, true, 1, true, false},       // fixtures: vision
    {2, 2, 12, 8, false, 0, false, true},     {2, 2, 10, 16, false, 0, false, true},      // fixtures: text (causal)
    {2, 3, 70, 24, true, 0, false, true},     {1, 2, 9, 7, false, 0, false, false},       // odd head dims
    {2, 16, 257, 88, false, 1, false, false}, {1, 16, 257, 112, false, 1, false, false},  // EVA01-g, EVA02-E
    {1, 2, 33, 160, true, 1, false, true},  // above 128: the generic kernel's widest instantiation
};
const Case kLengths[] = {
    {2, 3, 1, 64, true, 1, false, false},    {2, 3, 1, 64, false, 0, false, true},
    {3, 2, 7, 64, true, 1, false, false},    {3, 2, 7, 88, true, 0, true, true},
    {8, 12, 77, 64, false, 0, false, true},  {2, 8, 77, 64, false, 0, false, true},    // text towers
    {2, 3, 130, 64, true, 0, false, true},   {2, 3, 130, 112, true, 1, true, true},    // causal, partial tiles
    {8, 12, 197, 64, true, 1, false, false},                                           // B/16
    {4, 2, 257, 64, true, 1, true, false},   {2, 16, 257, 64, true, 1, false, false},  // L/14, dropout tables
    {1, 16, 577, 64, true, 1, false, false}, {1, 4, 577, 64, true, 1, true, true},     // L/14-336
    {2, 3, 99, 64, true, 1, true, false},    {2, 3, 129, 64, true, 1, true, false},    // patch dropout 50%
};
const Case kOffsets[] = {
    {2, 3, 197, 64, true, 1, false, false, 1},
    {2, 3, 77, 64, false, 0, false, true, 3},
    {2, 2, 65, 88, true, 1, true, true, 8},  // 16 bytes in 16-bit types: still the fused kernel
};

template <class T>
void check_all(const Case* cases, std::size_t n, std::uint64_t seed) {
  for (std::size_t i = 0; i < n; ++i) check<T>(cases[i], seed + 10 * i);
}

}  // namespace

TEST_F(CudaAttention, Fp32HeadDims) { check_all<float>(kHeadDims, std::size(kHeadDims), 100); }
TEST_F(CudaAttention, Bf16HeadDims) { check_all<bf16>(kHeadDims, std::size(kHeadDims), 200); }
TEST_F(CudaAttention, Fp16HeadDims) { check_all<f16>(kHeadDims, std::size(kHeadDims), 300); }
TEST_F(CudaAttention, Fp32Lengths) { check_all<float>(kLengths, std::size(kLengths), 400); }
TEST_F(CudaAttention, Bf16Lengths) { check_all<bf16>(kLengths, std::size(kLengths), 500); }
TEST_F(CudaAttention, Fp16Lengths) { check_all<f16>(kLengths, std::size(kLengths), 600); }
TEST_F(CudaAttention, UnalignedInputsFallBackAndStayCorrect) {
  check_all<float>(kOffsets, std::size(kOffsets), 700);
  check_all<bf16>(kOffsets, std::size(kOffsets), 800);
  check_all<f16>(kOffsets, std::size(kOffsets), 900);
}

TEST_F(CudaAttention, AttentionForwardMatchesTheCpuKernel) {
  // The signature of cpu::attention_forward: (BH, L, D), no tables.
  for (bool causal : {false, true}) {
    const std::int64_t BH = 12, L = 197, D = 64;
    const Shape s{BH, L, D};
    const Tensor q = host_randn(s, DType::bf16, 1), k = host_randn(s, DType::bf16, 2),
                 v = host_randn(s, DType::bf16, 3);
    Tensor o_ref = Tensor::empty(s, DType::bf16), lse_ref = Tensor::empty({BH, L}, DType::f32);
    cpu::attention_forward<float>(cpu::Backend{}, o_ref.data<bf16>(), lse_ref.data<float>(), q.data<bf16>(),
                                  k.data<bf16>(), v.data<bf16>(), BH, L, D, causal, 0.125);
    const Tensor dq = q.to(Device::cuda), dk = k.to(Device::cuda), dv = v.to(Device::cuda);
    Tensor o = Tensor::empty(s, DType::bf16, Device::cuda), lse = Tensor::empty({BH, L}, DType::f32, Device::cuda);
    cuda::attention_forward<float>(cuda::Backend{}, o.data<bf16>(), lse.data<float>(), dq.data<bf16>(), dk.data<bf16>(),
                                   dv.data<bf16>(), BH, L, D, causal, 0.125);
    EXPECT_TRUE(close_to_reference(o_ref, o.to(Device::cpu), 1e-2)) << "causal " << causal;
    EXPECT_TRUE(close_to_reference(lse_ref, lse.to(Device::cpu), 1e-2)) << "causal " << causal;
  }
}

TEST_F(CudaAttention, TapeOpOnCudaMatchesTheCpuTape) {
  const Shape s{2, 12, 197, 64};
  const Tensor q = host_randn(s, DType::bf16, 11), k = host_randn(s, DType::bf16, 12),
               v = host_randn(s, DType::bf16, 13);
  const auto [cos, sin] = tables(Case{2, 12, 197, 64, true, 1, false, false}, 14);
  const Tensor dcos = cos.to(Device::cuda), dsin = sin.to(Device::cuda);
  Tape<bf16_mixed> tc;
  Tape<bf16_mixed, Cuda> tg, tu(Cuda{.fusion = Fusion{.attention = false}});
  NoGrad ng(tg), nu(tu);
  const Var ref = rope_attention(tc, Var(q), Var(k), Var(v), {.rope = {&cos, &sin}, .prefix = 1});
  const Var dq(q.to(Device::cuda)), dk(k.to(Device::cuda)), dv(v.to(Device::cuda));
  const Var fused = rope_attention(tg, dq, dk, dv, {.rope = {&dcos, &dsin}, .prefix = 1});
  const Var unfused = rope_attention(tu, dq, dk, dv, {.rope = {&dcos, &dsin}, .prefix = 1});
  EXPECT_TRUE(close_to_reference(ref.value(), fused.value().to(Device::cpu), 1e-2));
  EXPECT_TRUE(close_to_reference(ref.value(), unfused.value().to(Device::cpu), 1e-2));
}

TEST_F(CudaAttention, BackwardIsNotBuiltYet) {
  const Shape s{1, 2, 5, 64};
  Tape<bf16_mixed, Cuda> tape;
  const Var q = Var::parameter(host_randn(s, DType::bf16, 21).to(Device::cuda));
  const Var o = rope_attention(tape, q, q, q, {.causal = true});
  try {
    tape.backward(o, host_randn(s, DType::bf16, 22).to(Device::cuda));
    ADD_FAILURE() << "expected the backward to throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_attention_backward"), std::string::npos) << e.what();
  }
}
