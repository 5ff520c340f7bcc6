// bench_norms_cuda.cu — the CUDA LayerNorm kernels at image-encoding size (batch 1024 x 197 tokens of
// B/16), bf16: layernorm and add_layernorm at D = 768 (B/16) and 1024 (L/14), swiglu_layernorm at the
// SwiGLU hidden sizes 2048 (B/16) and 2730 (L/14, pairs of elements per access), and, for comparison,
// the unfused compositions the fused kernels replace (add then layernorm, swiglu then layernorm).
//
// Each figure is the fused op's minimum device-memory traffic (every input read once, every output
// written once, including w, b and the saved mean/rstd) over the time CUDA events measure around one
// launch, after warm-up; the compositions are charged the same bytes, so their TB/s is directly
// comparable. Every tensor is 300 MB or more, six times the H200's 50 MB L2, and two input/output sets
// alternate, so no launch reads what the previous one left in L2. Counters: TB/s and its fraction of the
// measured 4.3 TB/s copy bandwidth (docs/performance.md). Skips without a CUDA device.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <functional>

#include "cuda_timing.cuh"
#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cuda/activations.cuh"
#include "evaclip/ops/cuda/add_layernorm.cuh"
#include "evaclip/ops/cuda/elementwise.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"
#include "evaclip/ops/cuda/swiglu_layernorm.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;

namespace {

constexpr std::int64_t kRows = 1024 * 197;

// Uniform values in [-2, 2) from a hash of the index: random (never all-zero) data without a host pass.
__global__ void fill_random_kernel(bf16* p, std::int64_t n, std::uint32_t seed) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  std::uint32_t h = std::uint32_t(i) * 0x9E3779B1u ^ seed;
  h ^= h >> 15, h *= 0x85EBCA77u, h ^= h >> 13, h *= 0xC2B2AE3Du, h ^= h >> 16;
  p[i] = gpu::from_f32<bf16>(float(h >> 8) * (4.0f / 16777216.0f) - 2.0f);
}

Tensor random_device(std::int64_t n, std::uint32_t seed) {
  Tensor t = Tensor::empty({n}, DType::bf16, Device::cuda);
  fill_random_kernel<<<unsigned(gpu::ceil_div(n, 256)), 256>>>(t.data<bf16>(), n, seed);
  EVACLIP_CUDA_CHECK(cudaGetLastError(), "fill_random_kernel");
  return t;
}
Tensor empty_bf16(std::int64_t n) { return Tensor::empty({n}, DType::bf16, Device::cuda); }
Tensor empty_f32(std::int64_t n) { return Tensor::empty({n}, DType::f32, Device::cuda); }

// Times launch(set) for set = 0, 1, 0, ... (bench::event_seconds); reports bytes per launch as TB/s.
void run_timed(benchmark::State& state, double bytes, const std::function<void(int)>& launch) {
  bench::report_bandwidth(state, bytes, bench::event_seconds(state, false, [&](int i) { launch(i % 2); }));
}


// Two alternating sets of the tensors one op needs on (kRows, C).
struct Set {
  Tensor a, b, out1, out2, mean, rstd;
};
std::array<Set, 2> make_sets(std::int64_t C) {
  std::array<Set, 2> s;
  for (int i = 0; i < 2; ++i)
    s[i] = {random_device(kRows * C, 10 + i), random_device(kRows * C, 20 + i), empty_bf16(kRows * C),
            empty_bf16(kRows * C), empty_f32(kRows), empty_f32(kRows)};
  return s;
}
// w, b (C,) plus the saved mean and rstd.
double param_and_stat_bytes(std::int64_t C) { return 2.0 * double(C) * 2 + 2.0 * double(kRows) * 4; }

// y = LN(x): read x, write y.
void BM_layernorm_bf16(benchmark::State& state) {
  if (!bench::have_device(state)) return;
  const std::int64_t C = state.range(0);
  const auto s = make_sets(C);
  const Tensor w = random_device(C, 1), b = random_device(C, 2);
  run_timed(state, 2.0 * double(kRows * C) * 2 + param_and_stat_bytes(C), [&](int i) {
    gpu::layernorm_forward<float, bf16>(gpu::Backend{}, s[i].out1.data<bf16>(), s[i].mean.data<float>(),
                                        s[i].rstd.data<float>(), s[i].a.data<bf16>(), w.data<bf16>(), b.data<bf16>(),
                                        kRows, C, 1e-6);
  });
}

// sum = x + r, y = LN(sum): read x, r, write sum, y; fused or as add then layernorm.
void bench_add_layernorm(benchmark::State& state, bool fused) {
  if (!bench::have_device(state)) return;
  const std::int64_t C = state.range(0);
  const auto s = make_sets(C);
  const Tensor w = random_device(C, 1), b = random_device(C, 2);
  run_timed(state, 4.0 * double(kRows * C) * 2 + param_and_stat_bytes(C), [&](int i) {
    const Set& t = s[i];
    if (fused) {
      gpu::add_layernorm_forward<float, bf16>(gpu::Backend{}, t.out1.data<bf16>(), t.out2.data<bf16>(),
                                              t.mean.data<float>(), t.rstd.data<float>(), t.a.data<bf16>(),
                                              t.b.data<bf16>(), w.data<bf16>(), b.data<bf16>(), kRows, C, 1e-6);
    } else {
      gpu::add_forward<float, bf16>(gpu::Backend{}, t.out1.data<bf16>(), t.a.data<bf16>(), t.b.data<bf16>(), 1,
                                    kRows * C);
      gpu::layernorm_forward<float, bf16>(gpu::Backend{}, t.out2.data<bf16>(), t.mean.data<float>(),
                                          t.rstd.data<float>(), t.out1.data<bf16>(), w.data<bf16>(), b.data<bf16>(),
                                          kRows, C, 1e-6);
    }
  });
}
void BM_add_layernorm_bf16(benchmark::State& state) { bench_add_layernorm(state, true); }
void BM_add_then_layernorm_bf16(benchmark::State& state) { bench_add_layernorm(state, false); }

// y = LN(silu(gate) * value): read gate, value, write y; fused or as swiglu then layernorm (out2 holds h).
void bench_swiglu_layernorm(benchmark::State& state, bool fused) {
  if (!bench::have_device(state)) return;
  const std::int64_t F = state.range(0);
  const auto s = make_sets(F);
  const Tensor w = random_device(F, 1), b = random_device(F, 2);
  run_timed(state, 3.0 * double(kRows * F) * 2 + param_and_stat_bytes(F), [&](int i) {
    const Set& t = s[i];
    if (fused) {
      gpu::swiglu_layernorm_forward<float, bf16>(gpu::Backend{}, t.out1.data<bf16>(), t.mean.data<float>(),
                                                 t.rstd.data<float>(), t.a.data<bf16>(), t.b.data<bf16>(),
                                                 w.data<bf16>(), b.data<bf16>(), kRows, F, 1e-6);
    } else {
      gpu::swiglu_forward<float, bf16>(gpu::Backend{}, t.out2.data<bf16>(), t.a.data<bf16>(), t.b.data<bf16>(),
                                       kRows * F);
      gpu::layernorm_forward<float, bf16>(gpu::Backend{}, t.out1.data<bf16>(), t.mean.data<float>(),
                                          t.rstd.data<float>(), t.out2.data<bf16>(), w.data<bf16>(), b.data<bf16>(),
                                          kRows, F, 1e-6);
    }
  });
}
void BM_swiglu_layernorm_bf16(benchmark::State& state) { bench_swiglu_layernorm(state, true); }
void BM_swiglu_then_layernorm_bf16(benchmark::State& state) { bench_swiglu_layernorm(state, false); }

}  // namespace

#define EVACLIP_NORM_BENCH(fn, ...) \
  BENCHMARK(fn)->ArgName("C")->Args({__VA_ARGS__})->UseManualTime()->Unit(benchmark::kMicrosecond)->Repetitions(5)

EVACLIP_NORM_BENCH(BM_layernorm_bf16, 768);
EVACLIP_NORM_BENCH(BM_layernorm_bf16, 1024);
EVACLIP_NORM_BENCH(BM_add_layernorm_bf16, 768);
EVACLIP_NORM_BENCH(BM_add_layernorm_bf16, 1024);
EVACLIP_NORM_BENCH(BM_add_then_layernorm_bf16, 768);
EVACLIP_NORM_BENCH(BM_swiglu_layernorm_bf16, 2048);
EVACLIP_NORM_BENCH(BM_swiglu_layernorm_bf16, 2730);
EVACLIP_NORM_BENCH(BM_swiglu_then_layernorm_bf16, 2048);

BENCHMARK_MAIN();
