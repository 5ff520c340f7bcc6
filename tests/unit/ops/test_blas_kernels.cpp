// Tests blas_kernels(): after the first double GEMM (the one OpenBLAS runs), OpenBLAS runs kernels of the
// CPU's own family (not its SSE3 fallback for CPUs newer than its model table), and the GEMMs computed
// after the switch are right.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/ops/cpu/blas_kernels.hpp"
#include "evaclip/ops/cpu/gemm.hpp"

using namespace evaclip;

namespace {
bool has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
}  // namespace

TEST(BlasKernels, OnlyFallbacksAreReplaced) {
  for (const char* chosen : {"SkylakeX", "Haswell", "Zen", "Cooperlake", "SapphireRapids", "Neoversen1"})
    EXPECT_EQ(cpu::detail::blas_core_for_features(chosen), nullptr) << chosen;
  const char* want = cpu::detail::blas_core_for_features("Prescott");
  EXPECT_EQ(want != nullptr, has_avx2_fma());
  if (want) {
    EXPECT_TRUE(std::string(want) == "SkylakeX" || std::string(want) == "Haswell") << want;
  }
}

TEST(BlasKernels, GemmRunsTheCpusKernelsAndStaysCorrect) {
  const std::int64_t m = 67, n = 45, k = 38;
  const auto a = test::random_values<double>(std::size_t(m * k), 1),
             b = test::random_values<double>(std::size_t(k * n), 2);
  std::vector<double> c(std::size_t(m * n));
  cpu::GemmShape s;
  s.m = m, s.n = n, s.k = k;
  cpu::gemm(cpu::Backend{}, s, 1.0, a.data(), b.data(), 0.0, c.data());

  const cpu::BlasKernels& kernels = cpu::blas_kernels();
  EXPECT_EQ(kernels.core, openblas_get_corename());
  if (!std::getenv("OPENBLAS_CORETYPE") && has_avx2_fma() && gotoblas_dynamic_init) {
    EXPECT_FALSE(cpu::detail::is_fallback_core(kernels.core))
        << "OpenBLAS still runs its " << kernels.core << " kernels";
  }
  if (!kernels.upgraded_from.empty()) {
    EXPECT_TRUE(cpu::detail::is_fallback_core(kernels.upgraded_from)) << kernels.upgraded_from;
  }

  double worst = 0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double ref = 0;
      for (std::int64_t p = 0; p < k; ++p) ref += a[std::size_t(i * k + p)] * b[std::size_t(p * n + j)];
      worst = std::max(worst, std::abs(ref - c[std::size_t(i * n + j)]));
    }
  EXPECT_LT(worst, 1e-4);
}
