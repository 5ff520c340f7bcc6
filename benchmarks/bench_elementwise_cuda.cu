// bench_elementwise_cuda.cu — the streaming CUDA kernels at EVA02-CLIP-B/16 image-encoding size (batch
// 1024, T = 197, D = 768, H = 12, hd = 64), bf16: strided_copy as split_heads and merge_heads, add as the
// residual (b the same size) and as the bias (b (768,)), rope2d on q (shared table, CLS prefix), and a
// cudaMemcpy of the same bytes as the split-heads copy, measured side by side as the ceiling.
//
// Each figure is the minimum device-memory traffic (every input read once, the output written once)
// over the time CUDA events measure around one launch, after warm-up. Every tensor is 310 MB, six times
// the H200's 50 MB L2, and two input/output sets alternate, so no launch reads what the previous one left
// in L2. Counters: TB/s and its fraction of the measured 4.3 TB/s copy bandwidth (docs/performance.md).
// Google Benchmark reports mean/median/stddev over the repetitions. Skips without a CUDA device.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <functional>

#include "cuda_timing.cuh"
#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cuda/elementwise.cuh"
#include "evaclip/ops/cuda/layout.cuh"
#include "evaclip/ops/cuda/rope.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;

namespace {

constexpr std::int64_t kB = 1024, kT = 197, kD = 768, kH = 12, kHd = 64;
constexpr std::int64_t kN = kB * kT * kD;  // 155 M elements, 310 MB in bf16

// Uniform values in [-2, 2) from a hash of the index: random (never all-zero) data without a host pass.
__global__ void fill_random_kernel(bf16* p, std::int64_t n, std::uint32_t seed) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  std::uint32_t h = std::uint32_t(i) * 0x9E3779B1u ^ seed;
  h ^= h >> 15, h *= 0x85EBCA77u, h ^= h >> 13, h *= 0xC2B2AE3Du, h ^= h >> 16;
  p[i] = gpu::from_f32<bf16>(float(h >> 8) * (4.0f / 16777216.0f) - 2.0f);
}

Tensor random_device(Shape s, std::uint32_t seed) {
  Tensor t = Tensor::empty(std::move(s), DType::bf16, Device::cuda);
  const std::int64_t n = t.numel();
  fill_random_kernel<<<unsigned(gpu::ceil_div(n, 256)), 256>>>(t.data<bf16>(), n, seed);
  EVACLIP_CUDA_CHECK(cudaGetLastError(), "fill_random_kernel");
  return t;
}

// Times launch(set) for set = 0, 1, 0, ... (bench::event_seconds); reports bytes per launch as TB/s.
void run_timed(benchmark::State& state, double bytes, const std::function<void(int)>& launch) {
  bench::report_bandwidth(state, bytes, bench::event_seconds(state, false, [&](int i) { launch(i % 2); }));
}


void BM_memcpy_d2d_bf16(benchmark::State& state) {  // the ceiling, same bytes as the split-heads copy
  if (!bench::have_device(state)) return;
  const std::array<Tensor, 2> x = {random_device({kN}, 1), random_device({kN}, 2)};
  const std::array<Tensor, 2> y = {Tensor::empty({kN}, DType::bf16, Device::cuda),
                                   Tensor::empty({kN}, DType::bf16, Device::cuda)};
  run_timed(state, 2.0 * kN * 2, [&](int s) {
    EVACLIP_CUDA_CHECK(cudaMemcpyAsync(y[s].raw(), x[s].raw(), x[s].nbytes(), cudaMemcpyDeviceToDevice), "memcpy");
  });
}

// (B, T, H hd) -> (B, H, T, hd) (split_heads) or back (merge_heads), through strided_copy as the tape does.
void bench_head_permute(benchmark::State& state, bool split) {
  if (!bench::have_device(state)) return;
  const Shape in = split ? Shape{kB, kT, kH, kHd} : Shape{kB, kH, kT, kHd};
  const std::array<Tensor, 2> x = {random_device(in, 3), random_device(in, 4)};
  std::array<Tensor, 2> src, y;
  for (int s = 0; s < 2; ++s) {
    src[s] = x[s].permute({0, 2, 1, 3});
    y[s] = Tensor::empty(src[s].shape(), DType::bf16, Device::cuda);
  }
  run_timed(state, 2.0 * kN * 2, [&](int s) {
    gpu::strided_copy(gpu::Backend{}, y[s].data<bf16>(), y[s].strides(), src[s].data<bf16>(), src[s].strides(),
                      src[s].shape());
  });
}
void BM_strided_copy_split_heads_bf16(benchmark::State& state) { bench_head_permute(state, true); }
void BM_strided_copy_merge_heads_bf16(benchmark::State& state) { bench_head_permute(state, false); }

// y = a + b with a (B T, D): b (B T, D) as the residual add (R = 1), or (D,) as the bias.
void bench_add(benchmark::State& state, bool residual) {
  if (!bench::have_device(state)) return;
  const std::int64_t C = residual ? kN : kD, R = kN / C;
  const std::array<Tensor, 2> a = {random_device({kN}, 5), random_device({kN}, 6)};
  const std::array<Tensor, 2> b = {random_device({C}, 7), random_device({C}, 8)};
  const std::array<Tensor, 2> y = {Tensor::empty({kN}, DType::bf16, Device::cuda),
                                   Tensor::empty({kN}, DType::bf16, Device::cuda)};
  run_timed(state, (2.0 * kN + double(C)) * 2, [&](int s) {
    gpu::add_forward<float, bf16>(gpu::Backend{}, y[s].data<bf16>(), a[s].data<bf16>(), b[s].data<bf16>(), R, C);
  });
}
void BM_add_residual_bf16(benchmark::State& state) { bench_add(state, true); }
void BM_add_bias_bf16(benchmark::State& state) { bench_add(state, false); }

// q (B, H, T, hd) rotated from token 1 on with the shared (T - 1, hd) float tables.
void BM_rope2d_bf16(benchmark::State& state) {
  if (!bench::have_device(state)) return;
  const std::array<Tensor, 2> x = {random_device({kB, kH, kT, kHd}, 9), random_device({kB, kH, kT, kHd}, 10)};
  const std::array<Tensor, 2> y = {Tensor::empty({kB, kH, kT, kHd}, DType::bf16, Device::cuda),
                                   Tensor::empty({kB, kH, kT, kHd}, DType::bf16, Device::cuda)};
  const Tensor cos = Tensor::full({kT - 1, kHd}, DType::f32, 0.6).to(Device::cuda);
  const Tensor sin = Tensor::full({kT - 1, kHd}, DType::f32, 0.8).to(Device::cuda);
  run_timed(state, 2.0 * kN * 2 + 2.0 * double((kT - 1) * kHd) * 4, [&](int s) {
    gpu::rope2d_forward<float, bf16>(gpu::Backend{}, y[s].data<bf16>(), x[s].data<bf16>(), cos.data<float>(),
                                     sin.data<float>(), kB, kH, kT, kHd, 1, false);
  });
}

}  // namespace

BENCHMARK(BM_memcpy_d2d_bf16)->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5);
BENCHMARK(BM_strided_copy_split_heads_bf16)->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5);
BENCHMARK(BM_strided_copy_merge_heads_bf16)->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5);
BENCHMARK(BM_add_residual_bf16)->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5);
BENCHMARK(BM_add_bias_bf16)->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5);
BENCHMARK(BM_rope2d_bf16)->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5);

BENCHMARK_MAIN();
