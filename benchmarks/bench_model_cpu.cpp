// bench_model_cpu.cpp — whole-tower inference of EVA02-CLIP-B/16 on the CPU, fp32, under NoGrad: the image
// tower on (B, 3, 224, 224) and the text tower on (B, 77) ids, at batch 1 and 8. Random weights (ParamInit,
// seed 0), built once outside the timed loop. benchmarks/peers/model_cpu_peer.py times PyTorch on the same
// shapes and thread count (OMP_NUM_THREADS) in the same run.
//
// Counter "flops" uses the model's per-sample forward GEMM FLOPs (nn::forward_flops, multiply-add = 2):
// image 35.13 GFLOP, text 5.96 GFLOP; counter "threads" is omp_get_max_threads().
#include <benchmark/benchmark.h>
#include <omp.h>

#include "evaclip/evaclip.hpp"
#include "evaclip/nn/model_stats.hpp"

using namespace evaclip;

namespace {
using Model = nn::Clip<nn::EVA02_CLIP_B_16::vision_block>;

const Model& model() {
  static const Model m = [] {
    nn::ParamInit init = nn::ParamInit::for_policy<fp32>(0);
    return Model(init, nn::EVA02_CLIP_B_16::config());
  }();
  return m;
}

const nn::ModelFlops& flops_per_sample() {
  static const nn::ModelFlops f = nn::forward_flops<nn::EVA02_CLIP_B_16::vision_block>(nn::EVA02_CLIP_B_16::config());
  return f;
}

void set_counters(benchmark::State& st, double flops_per_sample) {
  st.counters["flops"] = benchmark::Counter(flops_per_sample * double(st.range(0)),
                                            benchmark::Counter::kIsIterationInvariantRate);
  st.counters["threads"] = omp_get_max_threads();
}

void BM_image_forward(benchmark::State& st) {
  const Model& m = model();
  const std::int64_t B = st.range(0), S = m.cfg.vision.image_size;
  Rng rng(1);
  const Var images(Tensor::randn({B, 3, S, S}, DType::f32, rng));
  Tape<fp32> tape;
  NoGrad no_grad(tape);
  for (auto _ : st) {
    Var f = m.visual(tape, images);
    benchmark::DoNotOptimize(f.value().raw());
  }
  set_counters(st, flops_per_sample().image);
}

void BM_text_forward(benchmark::State& st) {
  const Model& m = model();
  const std::int64_t B = st.range(0), L = m.cfg.text.context_length, V = m.cfg.text.vocab_size;
  // Random tokens below the end-of-text id, which closes each caption at a varying length (the tower pools
  // at the argmax id); the whole context runs through the blocks either way.
  Rng rng(2);
  Tensor ids = Tensor::zeros({B, L}, DType::i64);
  auto* p = ids.data<std::int64_t>();
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t len = 8 + (b * 9) % (L - 8);
    for (std::int64_t i = 0; i < len; ++i) p[b * L + i] = 1 + std::int64_t(rng.uniform() * double(V - 3));
    p[b * L + len] = V - 1;
  }
  Tape<fp32> tape;
  NoGrad no_grad(tape);
  for (auto _ : st) {
    Var f = m.text(tape, ids);
    benchmark::DoNotOptimize(f.value().raw());
  }
  set_counters(st, flops_per_sample().text);
}

void batches(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B"})->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);
}
}  // namespace

BENCHMARK(BM_image_forward)->Apply(batches);
BENCHMARK(BM_text_forward)->Apply(batches);

BENCHMARK_MAIN();
