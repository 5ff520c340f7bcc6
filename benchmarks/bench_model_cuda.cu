// bench_model_cuda.cu — image-encoding throughput of the EVA02-CLIP-B/16 and L/14 image towers on the GPU
// (NoGrad inference, 224 px), in bf16 and fp16 at batch 256 and 1024, with every fusion on and with each
// switched off in turn (the backend's run-time Fusion switches; the second argument is the fusion mask:
// bit 0 attention, 1 add_norm, 2 swiglu_norm). Random weights (ParamInit, seed 0) on the device.
//
// Counters: img/s; TFLOP/s and MFU from the analytic forward FLOPs of nn::forward_flops (multiply-add = 2)
// over 989 TFLOP/s, the dense bf16 peak used for MFU (docs/performance.md). Each iteration is timed with
// CUDA events around one forward (manual time, bench::event_seconds). benchmarks/peers/model_cuda_peer.py runs timm's EVA02 on
// the same shapes in the same session and prints the ratios.
#include <benchmark/benchmark.h>

#include "cuda_timing.cuh"
#include "evaclip/cuda.cuh"
#include "evaclip/nn/model_stats.hpp"
#include "evaclip/nn/variants.hpp"

using namespace evaclip;

namespace {

// One image tower per (variant, precision), built on the host once and moved to the GPU.
template <class V, class P>
const nn::VisionTransformer<typename V::vision_block>& tower() {
  static const auto t = [] {
    nn::ParamInit init = nn::ParamInit::for_policy<P>(0);
    const nn::ClipCfg c = V::config();
    nn::VisionTransformer<typename V::vision_block> vt(init, c.vision, c.embed_dim);
    nn::ParamList ps;
    vt.params("", ps);
    for (const nn::NamedParam& p : ps) p.var.move_to(Device::cuda);
    return vt;
  }();
  return t;
}

template <class V, class P>
void BM_image_encode(benchmark::State& st) {
  if (!bench::have_device(st)) return;
  const auto& vt = tower<V, P>();
  const std::int64_t B = st.range(0), S = vt.cfg.image_size, bits = st.range(1);
  const Fusion fusion{.attention = bool(bits & 1), .add_norm = bool(bits & 2), .swiglu_norm = bool(bits & 4)};
  st.SetLabel("unfused: " + unfused_names(fusion));
  Rng rng(1);
  const Var images(Tensor::randn({B, 3, S, S}, P::act_dtype, rng).to(Device::cuda));
  Tape<P, Cuda> tape(Cuda{.fusion = fusion});
  NoGrad no_grad(tape);
  bench::event_seconds(st, false, [&](int) { (void)vt(tape, images); });
  const double flops = nn::forward_flops<typename V::vision_block>(V::config()).image * double(B);
  st.counters["img/s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
  st.counters["TFLOP/s"] = benchmark::Counter(flops / 1e12, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["MFU"] = benchmark::Counter(flops / 989e12, benchmark::Counter::kIsIterationInvariantRate);
}

// {batch, fusion mask}: all fused at both batches; at 256, each fusion off alone and all off.
void fusion_sweep(benchmark::internal::Benchmark* b) {
  for (const std::int64_t batch : {256, 1024}) b->Args({batch, 7});
  for (const std::int64_t mask : {6, 5, 3, 0}) b->Args({256, mask});
  b->ArgNames({"batch", "fusion"})->UseManualTime()->Unit(benchmark::kMillisecond);
}

#define EVACLIP_MODEL_BENCH(V, P) \
  BENCHMARK(BM_image_encode<nn::V, P>)->Name("image_encode/" #V "/" #P)->Apply(fusion_sweep)

EVACLIP_MODEL_BENCH(EVA02_CLIP_B_16, bf16_mixed);
EVACLIP_MODEL_BENCH(EVA02_CLIP_B_16, fp16_mixed);
EVACLIP_MODEL_BENCH(EVA02_CLIP_L_14, bf16_mixed);

}  // namespace

BENCHMARK_MAIN();
