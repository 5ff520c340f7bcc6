// ablation.cuh — defines the harness the kernel ablation programs (ablate_<op>.cu in this folder) share:
// the command line, the device check, seeded inputs, the check of a version against the CPU reference with
// the GPU tests' tolerances, the timing (benchmarks/cuda_timing.cuh) and the printed table.
//
//   ablate_<op> [N | all] [--dtype bf16|f16|f32] [--benchmark_min_time=SECONDS]
//
// For each of the op's cases (the released models' shapes), version N (default 0) and version 0 (the
// production kernel in include/evaclip/ops/cuda/) each run once on NaN-poisoned outputs and are compared
// with the CPU reference (ops/cpu/), then are timed: Google Benchmark picks the iteration count, each call
// is timed alone by CUDA events with the L2 flushed first. One row per (case, version): the worst output's
// error relative to the reference's largest magnitude (the GPU tests' measure), its tolerance, pass/FAIL,
// the median ms, GB/s or TFLOP/s, and the speed-up over version 0. Exit status 1 when a check fails, 2 on
// a bad command line; without a CUDA device one line and status 0.
//
// An op is a struct with
//   static constexpr const char* name, *reference;  // "layernorm", "cpu::layernorm_forward"
//   static constexpr Rate rate;                      // what Problem::work() counts
//   static constexpr const char* versions[];         // what each version is; [0] the production kernel
//   struct Case { std::string label; ... };          // one row of the table
//   static std::vector<Case> cases();
//   template <class T> struct Problem {              // one case's inputs and outputs in storage type T
//     explicit Problem(const Case&);                 //   seeded inputs, the CPU reference's outputs
//     void launch(int version);                      //   that version on the device buffers
//     std::vector<Output> outputs();                 //   each device output beside its reference
//     double work() const;                           //   bytes moved or FLOPs per launch
//   };
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "cuda_timing.cuh"
#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/tensor.hpp"
#include "gpu_test_util.cuh"  // tolerance<T>(): the GPU tests' bounds

namespace evaclip::ablation {

using gpu_test::tolerance;

enum class Rate { bandwidth, flops };  // memory-bound ops report GB/s, compute-bound ones TFLOP/s

// One output of a version: its device buffer beside the CPU reference's (host, same dtype and shape), and
// its tolerance relative to the reference's largest magnitude.
struct Output {
  const char* name;
  const Tensor* reference;
  Tensor* device;
  double tolerance;
};

// A host tensor of independent uniform values with this mean and standard deviation, from a counter-based
// hash of (seed, index): the largest cases have hundreds of millions of elements, which Rng's Box-Muller
// (gpu_test::host_randn) draws at seconds per hundred million.
inline Tensor random_host(Shape s, DType dt, std::uint64_t seed, double mean, double std) {
  Tensor t = Tensor::empty(std::move(s), dt);
  const std::int64_t n = t.numel();
  const double half = std * std::sqrt(3.0);
  visit_dtype(dt, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      std::uint64_t h = seed * 0xD1B54A32D192ED03ull + std::uint64_t(i);  // splitmix64's finaliser
      h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
      h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
      h ^= h >> 31;
      p[i] = convert<T>(mean + half * (double(h >> 11) * 0x1.0p-52 - 1.0));
    }
  });
  return t;
}

namespace detail {

struct Args {
  std::vector<int> versions;  // version 0 first
  DType dtype = DType::bf16;
};

inline void usage(std::FILE* f, const std::string& prog, const char* op, const auto& versions) {
  std::fprintf(f,
               "usage: %s [N | all] [--dtype bf16|f16|f32] [--benchmark_min_time=SECONDS]\n"
               "Checks version N of the CUDA %s kernel against the CPU reference at the released models' shapes\n"
               "and times it beside version 0, the production kernel. Versions:\n",
               prog.c_str(), op);
  for (std::size_t v = 0; v < std::size(versions); ++v) std::fprintf(f, "  %zu  %s\n", v, versions[v]);
}

// Parses the command line; exits on --help (0) and on errors (2).
template <class Op>
Args parse(int argc, char** argv, const std::string& prog) {
  const int count = int(std::size(Op::versions));
  auto fail = [&](const std::string& msg) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), msg.c_str());
    usage(stderr, prog, Op::name, Op::versions);
    std::exit(2);
  };
  Args a;
  int n = 0;
  bool all = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view s = argv[i];
    if (s == "-h" || s == "--help") {
      usage(stdout, prog, Op::name, Op::versions);
      std::exit(0);
    } else if (s.starts_with("--benchmark_")) {
      continue;  // Google Benchmark's, for benchmark::Initialize
    } else if (s == "--dtype" && i + 1 < argc) {
      const std::string_view d = argv[++i];
      if (d == "bf16") a.dtype = DType::bf16;
      else if (d == "f16") a.dtype = DType::f16;
      else if (d == "f32") a.dtype = DType::f32;
      else fail("--dtype " + std::string(d) + ": one of bf16, f16, f32");
    } else if (s == "all") {
      all = true;
    } else if (!s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos && s.size() < 4) {
      n = std::atoi(argv[i]);
      if (n >= count) fail("no version " + std::string(s) + " (0 to " + std::to_string(count - 1) + ")");
    } else {
      fail("unknown argument " + std::string(s));
    }
  }
  for (int v = 0; v < count; ++v)
    if (v == 0 || v == n || all) a.versions.push_back(v);
  return a;
}

// Google Benchmark's display reporter for the timing runs: silent, the harness prints its own table.
struct Quiet : benchmark::BenchmarkReporter {
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

// The median seconds of one launch of `version`, over the iterations Google Benchmark chooses.
template <class P>
double time_version(P& p, int version, const std::string& name) {
  std::vector<double> seconds;
  benchmark::RegisterBenchmark(name.c_str(), [&](benchmark::State& st) {
    seconds = bench::event_seconds(st, true, [&](int) { p.launch(version); });
  })->UseManualTime();
  Quiet quiet;
  benchmark::RunSpecifiedBenchmarks(&quiet);
  benchmark::ClearRegisteredBenchmarks();
  EVACLIP_CHECK(!seconds.empty(), name, ": no timed iterations (a --benchmark_filter that excludes it?)");
  return bench::median(seconds);
}

// The worst of p's outputs (largest error / tolerance) after one launch of `version` on poisoned outputs.
struct Verdict {
  const char* output;
  double error, tolerance;
  bool pass() const { return error <= tolerance; }
};
template <class P>
Verdict check_version(P& p, int version, const std::string& name) {
  for (const Output& o : p.outputs())
    EVACLIP_CUDA_CHECK(cudaMemset(o.device->raw(), 0xFF, o.device->nbytes()), "ablate: poison");  // NaN
  p.launch(version);
  EVACLIP_CUDA_CHECK(cudaDeviceSynchronize(), name.c_str());
  Verdict worst{"", 0, 1};
  for (const Output& o : p.outputs()) {
    const double e = gpu_test::reference_error(*o.reference, *o.device).relative();
    if (e / o.tolerance >= worst.error / worst.tolerance) worst = {o.name, e, o.tolerance};
  }
  return worst;
}

template <class Op, class T>
int run_typed(const Args& a, const std::string& prog) {
  cudaDeviceProp prop{};
  EVACLIP_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0), "ablate: cudaGetDeviceProperties");
  const bool flops = Op::rate == Rate::flops;
  std::printf("%s: %s, %s, against %s\n", prog.c_str(), prop.name, std::string(dtype_name(dtype_of<T>())).c_str(),
              Op::reference);
  for (int v : a.versions) std::printf("  v%d  %s\n", v, Op::versions[v]);
  std::printf("%-34s %-4s %9s %8s %-12s %9s %9s %7s\n", "case", "ver", "error", "tol", "check", "ms",
              flops ? "TFLOP/s" : "GB/s", "vs v0");
  bool ok = true;
  for (const auto& c : Op::cases()) {
    typename Op::template Problem<T> p(c);
    double base = 0;
    for (int v : a.versions) {
      const std::string name = std::string(Op::name) + " v" + std::to_string(v) + " " + c.label;
      const Verdict r = check_version(p, v, name);
      const double s = time_version(p, v, name);
      if (v == 0) base = s;
      ok = ok && r.pass();
      const std::string check = r.pass() ? "pass" : std::string("FAIL ") + r.output;
      std::printf("%-34s v%-3d %9.2e %8.0e %-12s %9.4f %9.1f %7.2f\n", v == a.versions[0] ? c.label.c_str() : "", v,
                  r.error, r.tolerance, check.c_str(), s * 1e3, p.work() / s / (flops ? 1e12 : 1e9), base / s);
      std::fflush(stdout);
    }
  }
  return ok ? 0 : 1;
}

}  // namespace detail

// The whole program: `int main(int argc, char** argv) { return ablation::run<MyOp>(argc, argv); }`.
template <class Op>
int run(int argc, char** argv) {
  const std::string prog = "ablate_" + std::string(Op::name);
  const detail::Args a = detail::parse<Op>(argc, argv, prog);
  benchmark::Initialize(&argc, argv);  // reads the --benchmark_* flags
  if (!cuda_available()) {
    std::printf("%s: no CUDA device, nothing run\n", prog.c_str());
    return 0;
  }
  try {
    switch (a.dtype) {
      case DType::f32: return detail::run_typed<Op, float>(a, prog);
      case DType::f16: return detail::run_typed<Op, f16>(a, prog);
      default: return detail::run_typed<Op, bf16>(a, prog);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), e.what());
    return 1;
  }
}

}  // namespace evaclip::ablation
