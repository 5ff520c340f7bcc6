// cuda_timing.cuh — defines what the CUDA benchmarks share: the device check, the CUDA-event timing loop
// (warm-up, optional L2 flush, each iteration timed alone as manual time) and the bandwidth counters.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "evaclip/core/cuda_memory.hpp"

namespace evaclip::bench {

inline constexpr double kCopyTBs = 4.3;        // H200 device-to-device copy, bytes read + written
inline constexpr double kCeilingTflops = 790;  // H200 bf16 8192^3 GEMM through PyTorch, random data

// False (and the benchmark reported as skipped with "no CUDA device") without a device.
inline bool have_device(benchmark::State& state) {
  if (cuda_available()) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

// Calls launch(i) for i = 0, 1, 2, ... : 3 warm-up calls (module load, cuBLASLt plans, clocks), then one
// per benchmark iteration, each timed alone with CUDA events and set as the iteration's manual time.
// Callers alternate input sets by i's parity; with flush_l2 the L2 is overwritten before each timed call.
// Returns the timed calls' seconds.
template <class F>
std::vector<double> event_seconds(benchmark::State& state, bool flush_l2, F&& launch) {
  void* flush = nullptr;
  std::size_t flush_bytes = 0;
  if (flush_l2) {
    int device = 0, l2 = 0;
    EVACLIP_CUDA_CHECK(cudaGetDevice(&device), "bench: cudaGetDevice");
    EVACLIP_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device), "bench: L2 size");
    flush_bytes = std::size_t(std::max(l2, 1 << 20)) * 2;
    flush = device_alloc(flush_bytes);
  }
  cudaEvent_t start, stop;
  EVACLIP_CUDA_CHECK(cudaEventCreate(&start), "bench: cudaEventCreate");
  EVACLIP_CUDA_CHECK(cudaEventCreate(&stop), "bench: cudaEventCreate");
  int i = 0;
  for (; i < 3; ++i) launch(i);
  EVACLIP_CUDA_CHECK(cudaDeviceSynchronize(), "bench: warm-up");
  std::vector<double> seconds;
  for (auto _ : state) {
    if (flush) EVACLIP_CUDA_CHECK(cudaMemsetAsync(flush, i & 0xff, flush_bytes), "bench: L2 flush");
    EVACLIP_CUDA_CHECK(cudaEventRecord(start), "bench: cudaEventRecord");
    launch(i++);
    EVACLIP_CUDA_CHECK(cudaEventRecord(stop), "bench: cudaEventRecord");
    EVACLIP_CUDA_CHECK(cudaEventSynchronize(stop), "bench: cudaEventSynchronize");
    float ms = 0;
    EVACLIP_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop), "bench: cudaEventElapsedTime");
    seconds.push_back(ms * 1e-3);
    state.SetIterationTime(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (flush) device_free(flush);
  return seconds;
}

inline double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Counters TB/s and its fraction of the copy ceiling, for `bytes` moved per call over the mean call time.
inline void report_bandwidth(benchmark::State& state, double bytes, const std::vector<double>& seconds) {
  double total = 0;
  for (double s : seconds) total += s;
  const double tbs = bytes * double(seconds.size()) / total / 1e12;
  state.counters["TB/s"] = tbs;
  state.counters["frac_of_4.3TB/s"] = tbs / kCopyTBs;
}

// Counters TFLOP/s and its fraction of the GEMM ceiling, for `flops` per call over the median call time.
inline void report_flops(benchmark::State& state, double flops, const std::vector<double>& seconds) {
  const double tflops = flops / median(seconds) / 1e12;
  state.counters["TFLOP/s"] = tflops;
  state.counters["frac_of_790"] = tflops / kCeilingTflops;
}

}  // namespace evaclip::bench
