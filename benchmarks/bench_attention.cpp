// bench_attention.cpp — the attention tape op (CPU reference) at EVA02-CLIP-B/16 shapes, batch 8:
// image tower B=8, H=12, T=197, hd=64 (not causal); text tower B=8, H=8 (width 512), T=77, hd=64, causal.
//
// Counter "flops" counts the products the reference actually runs, each 2 T^2 hd per (batch, head):
// the forward does 2 (q k^T, P v); forward+backward does 7 (the backward recomputes q k^T, then
// dO v^T, P^T dO, dS k, dS^T q). Causal runs are counted in full, because the reference computes the
// masked half too.
#include <benchmark/benchmark.h>

#include "evaclip/evaclip.hpp"
#include "evaclip/ops/attention.hpp"

using namespace evaclip;

namespace {
void set_flops(benchmark::State& st, double products) {
  const double B = double(st.range(0)), H = double(st.range(1)), T = double(st.range(2)), D = double(st.range(3));
  st.counters["flops"] =
      benchmark::Counter(products * 2 * B * H * T * T * D, benchmark::Counter::kIsIterationInvariantRate);
}

// {B, H, T, hd, causal}
void model_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "H", "T", "hd", "causal"});
  b->Args({8, 12, 197, 64, 0});
  b->Args({8, 8, 77, 64, 1});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

template <class P>
std::vector<Tensor> inputs(benchmark::State& st) {
  Rng rng(1);
  const Shape s{st.range(0), st.range(1), st.range(2), st.range(3)};
  return {Tensor::randn(s, P::act_dtype, rng), Tensor::randn(s, P::act_dtype, rng),
          Tensor::randn(s, P::act_dtype, rng)};
}

template <class P>
void BM_attention_forward(benchmark::State& st) {
  const auto in = inputs<P>(st);
  const bool causal = st.range(4) != 0;
  Tape<P> tape;
  NoGrad no_grad(tape);
  for (auto _ : st) {
    Var o = attention(tape, Var(in[0]), Var(in[1]), Var(in[2]), causal);
    benchmark::DoNotOptimize(o.value().raw());
  }
  set_flops(st, 2);
}

template <class P>
void BM_attention_forward_backward(benchmark::State& st) {
  const auto in = inputs<P>(st);
  const bool causal = st.range(4) != 0;
  const std::vector<Var> v{Var::parameter(in[0]), Var::parameter(in[1]), Var::parameter(in[2])};
  Rng rng(2);
  const Tensor seed = Tensor::randn(in[0].shape(), P::act_dtype, rng);
  Tape<P> tape;
  for (auto _ : st) {
    Var o = attention(tape, v[0], v[1], v[2], causal);
    tape.backward(o, seed);
    for (const auto& x : v) x.clear_grad();  // the first backward adopts its buffers, like a training step
  }
  set_flops(st, 7);
}
}  // namespace

BENCHMARK_TEMPLATE(BM_attention_forward, fp32)->Apply(model_shapes);
BENCHMARK_TEMPLATE(BM_attention_forward_backward, fp32)->Apply(model_shapes);
BENCHMARK_TEMPLATE(BM_attention_forward, bf16_mixed)->Apply(model_shapes);
BENCHMARK_TEMPLATE(BM_attention_forward_backward, bf16_mixed)->Apply(model_shapes);

BENCHMARK_MAIN();
