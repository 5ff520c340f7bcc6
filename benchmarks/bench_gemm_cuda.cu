// bench_gemm_cuda — cuda::linear_forward (cuBLASLt with the bias epilogue) at EVA02-CLIP-B/16 and L/14's own
// GEMM shapes in bf16, and an 8192^3 bf16 cuda::gemm as the ceiling check.
//
// M = 8192, 65536 and the batch-1024 image-token count (1024 x 197 for B/16, 1024 x 257 for L/14);
// (K, N) = qkv, attention out-proj, SwiGLU up (w1 / w2) and down (w3). Each repeat is timed alone with
// CUDA events after the L2 is flushed (a memset of twice its size), warm-up first; the counters are the
// median repeat's TFLOP/s (2 M N K per product) and its fraction of the 790 TFLOP/s measured for an
// 8192^3 bf16 GEMM through PyTorch on the H200 (docs/performance.md). Inputs are uniform in [-1, 1),
// never zero. Without a device every benchmark reports "no CUDA device".
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/tensor.hpp"
#include "cuda_timing.cuh"
#include "evaclip/ops/cuda/gemm.cuh"
#include "evaclip/ops/cuda/linear.cuh"

using namespace evaclip;

namespace {

// Uniform [-1, 1) from a hash of the index: cheap, deterministic, never all zeros.
__global__ void fill_uniform(bf16* p, std::int64_t n, std::uint32_t seed) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    std::uint32_t h = std::uint32_t(i) * 2654435761u ^ seed ^ std::uint32_t(i >> 32) * 2246822519u;
    h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
    p[i] = cuda::from_f32<bf16>(float(h >> 8) * (2.0f / 16777216.0f) - 1.0f);
  }
}

Tensor random_bf16(Shape s, std::uint32_t seed) {
  Tensor t = Tensor::empty(std::move(s), DType::bf16, Device::cuda);
  fill_uniform<<<4096, 256>>>(t.data<bf16>(), t.numel(), seed);
  EVACLIP_CUDA_CHECK(cudaGetLastError(), "bench_gemm_cuda: fill");
  return t;
}

// Times `run` once per benchmark iteration (L2 flushed before each), reports the median as counters.
template <class F>
void time_gemm(benchmark::State& state, double flops, F&& run) {
  bench::report_flops(state, flops, bench::event_seconds(state, true, [&](int) { run(); }));
}

// y (M, N) = x (M, K) W^T + b in bf16 through cuda::linear_forward.
void BM_linear_bias_bf16(benchmark::State& state) {
  if (!bench::have_device(state)) return;
  const std::int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  const Tensor x = random_bf16({M, K}, 1), w = random_bf16({N, K}, 2), b = random_bf16({N}, 3);
  Tensor y = Tensor::empty({M, N}, DType::bf16, Device::cuda);
  time_gemm(state, 2.0 * double(M) * double(N) * double(K), [&] {
    cuda::linear_forward<float, bf16>(cuda::Backend{}, y.data<bf16>(), x.data<bf16>(), w.data<bf16>(), b.data<bf16>(),
                                      M, K, N);
  });
}

// C = A B, n x n x n in bf16 through cuda::gemm (no epilogue): the ceiling check against 790 TFLOP/s.
void BM_gemm_bf16_square(benchmark::State& state) {
  if (!bench::have_device(state)) return;
  const std::int64_t n = state.range(0);
  const Tensor a = random_bf16({n, n}, 4), b = random_bf16({n, n}, 5);
  Tensor c = Tensor::empty({n, n}, DType::bf16, Device::cuda);
  cpu::GemmShape s;
  s.m = s.n = s.k = n;
  time_gemm(state, 2.0 * double(n) * double(n) * double(n),
            [&] { cuda::gemm(cuda::Backend{}, s, 1.0, a.data<bf16>(), b.data<bf16>(), 0.0, c.data<bf16>()); });
}

void model_shapes(benchmark::internal::Benchmark* bm) {
  // (tokens per image, K N pairs) for B/16 (width 768, SwiGLU 2048) and L/14 (width 1024, SwiGLU 2730).
  struct Family {
    std::int64_t tokens;
    std::int64_t kn[4][2];
  };
  const Family families[] = {
      {197, {{768, 3 * 768}, {768, 768}, {768, 2048}, {2048, 768}}},
      {257, {{1024, 3 * 1024}, {1024, 1024}, {1024, 2730}, {2730, 1024}}},
  };
  for (const auto& f : families)
    for (std::int64_t M : {std::int64_t(8192), std::int64_t(65536), 1024 * f.tokens})
      for (const auto& kn : f.kn) bm->Args({M, kn[0], kn[1]});
}

}  // namespace

BENCHMARK(BM_linear_bias_bf16)
    ->ArgNames({"M", "K", "N"})
    ->Apply(model_shapes)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm_bf16_square)->ArgName("n")->Arg(8192)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
