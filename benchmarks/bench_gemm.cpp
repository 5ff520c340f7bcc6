// bench_gemm.cpp — cpu::gemm (oneDNN's sgemm, in row panels) against OpenBLAS's cblas_sgemm called
// directly, and the linear tape op, at the matrix shapes of an EVA02-CLIP-B/16 image forward with batch 8
// and batch 1 (8 x 197 or 197 tokens, width 768, MLP 2048), plus 1024^3. With several threads, cblas_sgemm
// runs OpenBLAS's own threading and cpu::gemm its row panels of single-threaded calls (gemm.hpp).
//
// Each case is y (M, N) = x (M, K) W^T with W stored (N, K), as nn.Linear. Counter "flops" is 2 M N K per
// iteration as a rate over wall time (threads run in BLAS, so CPU time of the main thread would mislead).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "evaclip/evaclip.hpp"
#include "evaclip/ops/cpu/blas_kernels.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/linear.hpp"

using namespace evaclip;

namespace {
// OpenBLAS on the CPU's own kernels before the first case, as cpu::gemm has it (blas_kernels.hpp).
const cpu::BlasKernels& kKernels = cpu::blas_kernels();

void set_flops(benchmark::State& st, std::int64_t m, std::int64_t n, std::int64_t k) {
  st.counters["flops"] =
      benchmark::Counter(2.0 * double(m) * double(n) * double(k), benchmark::Counter::kIsIterationInvariantRate);
}

// {M, N, K}: qkv-sized 768->768, MLP up 768->2048, MLP down 2048->768 at batch 8 and 1, square 1024.
void model_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K"});
  for (auto s : std::vector<std::vector<std::int64_t>>{{8 * 197, 768, 768},
                                                       {8 * 197, 2048, 768},
                                                       {8 * 197, 768, 2048},
                                                       {197, 768, 768},
                                                       {197, 2048, 768},
                                                       {197, 768, 2048},
                                                       {1024, 1024, 1024}})
    b->Args(s);
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

template <class T>
void BM_gemm_evaclip(benchmark::State& st) {
  const std::int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  Rng rng(1);
  const Tensor x = Tensor::randn({M, K}, dtype_of<T>(), rng), w = Tensor::randn({N, K}, dtype_of<T>(), rng);
  Tensor y = Tensor::empty({M, N}, dtype_of<T>());
  cpu::GemmShape s;
  s.trans_b = true;
  s.m = M, s.n = N, s.k = K;
  for (auto _ : st) {
    cpu::gemm(Cpu{}, s, 1.0, x.data<T>(), w.data<T>(), 0.0, y.data<T>());
    benchmark::DoNotOptimize(y.data<T>());
  }
  set_flops(st, M, N, K);
}

void BM_gemm_openblas(benchmark::State& st) {
  const std::int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  Rng rng(1);
  const Tensor x = Tensor::randn({M, K}, DType::f32, rng), w = Tensor::randn({N, K}, DType::f32, rng);
  Tensor y = Tensor::empty({M, N}, DType::f32);
  for (auto _ : st) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.0f, x.data<float>(), int(K),
                w.data<float>(), int(K), 0.0f, y.data<float>(), int(N));
    benchmark::DoNotOptimize(y.data<float>());
  }
  set_flops(st, M, N, K);
}

// The tape op without bias: argument checks, output allocation and the Var on top of the same GEMM.
void BM_linear_fp32(benchmark::State& st) {
  const std::int64_t M = st.range(0), N = st.range(1), K = st.range(2);
  Rng rng(1);
  const Var x(Tensor::randn({M, K}, DType::f32, rng)), w(Tensor::randn({N, K}, DType::f32, rng));
  Tape<fp32> tape;
  NoGrad no_grad(tape);
  for (auto _ : st) {
    Var y = linear(tape, x, w, Var());
    benchmark::DoNotOptimize(y.value().raw());
  }
  set_flops(st, M, N, K);
}
}  // namespace

BENCHMARK(BM_gemm_openblas)->Apply(model_shapes);
BENCHMARK_TEMPLATE(BM_gemm_evaclip, float)->Apply(model_shapes);
BENCHMARK(BM_linear_fp32)->Apply(model_shapes);
BENCHMARK_TEMPLATE(BM_gemm_evaclip, bf16)->Apply(model_shapes);  // 16-bit storage: widen, sgemm, round

BENCHMARK_MAIN();
