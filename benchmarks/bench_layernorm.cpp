// bench_layernorm.cpp — LayerNorm forward (the tape op) and backward (the CPU kernel) at (8 x 197, 768),
// the token matrix of an EVA02-CLIP-B/16 image forward with batch 8, fp32.
//
// Counter "bytes" is the minimum memory traffic as a rate over wall time: the forward reads x and writes
// y (2 R C floats), the backward reads dy and x and writes dx (3 R C floats); the (C,) and (R,) vectors
// are negligible. LayerNorm is memory bound, so this is the number to compare with the machine's bandwidth.
#include <benchmark/benchmark.h>

#include "evaclip/evaclip.hpp"

using namespace evaclip;

namespace {
constexpr std::int64_t R = 8 * 197, C = 768;

void set_bytes(benchmark::State& st, double tensors) {
  st.counters["bytes"] =
      benchmark::Counter(tensors * double(R * C) * sizeof(float), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_layernorm_forward(benchmark::State& st) {
  Rng rng(1);
  const Var x(Tensor::randn({R, C}, DType::f32, rng)), w(Tensor::randn({C}, DType::f32, rng)),
      b(Tensor::randn({C}, DType::f32, rng));
  Tape<fp32> tape;
  NoGrad no_grad(tape);
  for (auto _ : st) {
    Var y = layernorm(tape, x, w, b, 1e-6);
    benchmark::DoNotOptimize(y.value().raw());
  }
  set_bytes(st, 2);
}

void BM_layernorm_backward(benchmark::State& st) {
  Rng rng(1);
  const Tensor x = Tensor::randn({R, C}, DType::f32, rng), w = Tensor::randn({C}, DType::f32, rng);
  const Tensor dy = Tensor::randn({R, C}, DType::f32, rng);
  Tensor y = Tensor::empty({R, C}, DType::f32), mean = Tensor::empty({R}, DType::f32),
         rstd = Tensor::empty({R}, DType::f32);
  Tensor dx = Tensor::empty({R, C}, DType::f32), dw = Tensor::empty({C}, DType::f32),
         db = Tensor::empty({C}, DType::f32);
  cpu::layernorm_forward<float, float>(Cpu{}, y.data<float>(), mean.data<float>(), rstd.data<float>(), x.data<float>(),
                                       w.data<float>(), nullptr, R, C, 1e-6);
  for (auto _ : st) {
    cpu::layernorm_backward<float, float>(Cpu{}, dx.data<float>(), dw.data<float>(), db.data<float>(), dy.data<float>(),
                                          x.data<float>(), w.data<float>(), mean.data<float>(), rstd.data<float>(), R,
                                          C);
    benchmark::DoNotOptimize(dx.data<float>());
  }
  set_bytes(st, 3);
}
}  // namespace

BENCHMARK(BM_layernorm_forward)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_layernorm_backward)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
