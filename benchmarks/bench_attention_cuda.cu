// bench_attention_cuda — cuda::rope_attention_forward, fused vs unfused (the ablation), bf16, at the model's
// shapes: EVA02-CLIP-B/16 image (H 12, T 197, hd 64, RoPE with the CLS prefix 1) and L/14 (H 16, T 257,
// hd 64, RoPE prefix 1) at batch 64 and 1024, and the text tower (H 12, T 77, hd 64, causal, no RoPE).
//
// Each repeat is timed alone with CUDA events after the L2 is flushed (a memset of twice its size), after
// a warm-up; the counters are the median repeat's TFLOP/s, counting 4 T^2 hd per (batch, head) (q k^T and
// P v; causal halves it) and not the RoPE, and its fraction of the 790 TFLOP/s of a bf16 8192^3 GEMM on the
// H200 (docs/performance.md). Inputs are N(0, 1), tables cos/sin of random angles. Without a device every
// benchmark reports "no CUDA device". benchmarks/peers/attention_cuda_peer.py runs PyTorch's SDPA on the
// same shapes and reads this program's JSON.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "evaclip/core/cuda_memory.hpp"
#include "cuda_timing.cuh"
#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/attention_args.hpp"
#include "evaclip/ops/cuda/attention.cuh"

using namespace evaclip;

namespace {

// {B, H, T, hd, causal, rope}
void model_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "H", "T", "hd", "causal", "rope"});
  for (std::int64_t batch : {64, 1024}) {
    b->Args({batch, 12, 197, 64, 0, 1});  // B/16 image
    b->Args({batch, 16, 257, 64, 0, 1});  // L/14 image
  }
  b->Args({1024, 12, 77, 64, 1, 0});  // text tower (L/14's: width 768)
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

template <bool kFused>
void BM_rope_attention(benchmark::State& state) {
  if (!bench::have_device(state)) return;
  const std::int64_t B = state.range(0), H = state.range(1), L = state.range(2), hd = state.range(3);
  const bool causal = state.range(4) != 0, rope = state.range(5) != 0;
  const Shape s{B, H, L, hd};
  Rng rng(1);
  const Tensor q = Tensor::randn(s, DType::bf16, rng).to(Device::cuda);
  const Tensor k = Tensor::randn(s, DType::bf16, rng).to(Device::cuda);
  const Tensor v = Tensor::randn(s, DType::bf16, rng).to(Device::cuda);
  const Tensor angle = Tensor::uniform({L - 1, hd}, DType::f64, rng, -3.2, 3.2);
  std::vector<double> cv, sv;
  for (double a : angle.to_vector()) cv.push_back(std::cos(a)), sv.push_back(std::sin(a));
  const Tensor cos = Tensor::from({L - 1, hd}, DType::f32, cv).to(Device::cuda);
  const Tensor sin = Tensor::from({L - 1, hd}, DType::f32, sv).to(Device::cuda);
  Tensor o = Tensor::empty(s, DType::bf16, Device::cuda), lse = Tensor::empty({B, H, L}, DType::f32, Device::cuda);
  const double scale = 1.0 / std::sqrt(double(hd));
  const AttentionArgs<bf16, float> args{.q = q.data<bf16>(), .k = k.data<bf16>(), .v = v.data<bf16>(),
                                        .cos = rope ? cos.data<float>() : nullptr,
                                        .sin = rope ? sin.data<float>() : nullptr, .batch = B, .heads = H,
                                        .tokens = L, .head_dim = hd, .prefix = rope ? 1 : 0, .causal = causal,
                                        .scale = scale};
  cuda::Backend be;
  be.fusion.attention = kFused;
  auto run = [&] { cuda::rope_attention_forward(be, o.data<bf16>(), lse.data<float>(), args); };

  const std::vector<double> seconds = bench::event_seconds(state, true, [&](int) { run(); });
  const double median = bench::median(seconds);
  const double flops = 4.0 * double(L) * double(L) * double(hd) * double(B * H) * (causal ? 0.5 : 1.0);
  state.counters["median_ms"] = median * 1e3;
  bench::report_flops(state, flops, seconds);
}

}  // namespace

BENCHMARK_TEMPLATE(BM_rope_attention, true)->Name("BM_rope_attention<fused>")->Apply(model_shapes);
BENCHMARK_TEMPLATE(BM_rope_attention, false)->Name("BM_rope_attention<unfused>")->Apply(model_shapes);

BENCHMARK_MAIN();
