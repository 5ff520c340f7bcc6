// blas_kernels.hpp — defines blas_kernels(): which OpenBLAS kernels the GEMMs use, upgraded once to the ones
// the CPU supports when OpenBLAS's model table does not know the CPU.
//
// OpenBLAS runs the double GEMMs (the fp64 reference path; float goes to oneDNN, gemm.hpp). A DYNAMIC_ARCH
// OpenBLAS picks its kernels from the CPU's family/model number. One older than the CPU (Debian 12's 0.3.21
// on Emerald Rapids, model 0xCF) finds no entry and falls back to its SSE3 "Prescott" kernels, silently
// and several times slower (docs/performance.md). OPENBLAS_CORETYPE fixes that, but only if set before the library loads. So on the
// first GEMM, when the user has not set it and OpenBLAS reports a pre-AVX2 core on a CPU with AVX2 + FMA (or
// AVX-512), this re-runs OpenBLAS's kernel selection with OPENBLAS_CORETYPE naming the family the CPU's
// features call for (SkylakeX / Haswell). Nothing runs in OpenBLAS at that point, and the buffers it
// allocates later do not depend on the kernels. With a non-DYNAMIC_ARCH OpenBLAS (the selection functions
// absent: weak symbols) or with OPENBLAS_CORETYPE set, the kernels stay as they are.
#pragma once

#include <cstdlib>
#include <string>

extern "C" {
char* openblas_get_corename(void);
// OpenBLAS's own kernel selection (exported by DYNAMIC_ARCH builds; reads OPENBLAS_CORETYPE).
__attribute__((weak)) void gotoblas_dynamic_init(void);
__attribute__((weak)) void gotoblas_dynamic_quit(void);
}

namespace evaclip::cpu {

struct BlasKernels {
  std::string core;           // OpenBLAS's core name now, e.g. "SkylakeX"
  std::string upgraded_from;  // the core OpenBLAS chose itself, when blas_kernels() replaced it; else empty
};

namespace detail {
// OpenBLAS's x86 fallbacks below AVX2; every other name is a deliberate choice.
inline bool is_fallback_core(const std::string& core) {
  return core == "Prescott" || core == "Core2" || core == "Penryn" || core == "Nehalem" || core == "Dunnington" ||
         core == "Sandybridge";
}

// The kernel family this CPU's features call for, or nullptr when OpenBLAS's own choice stands.
inline const char* blas_core_for_features(const std::string& chosen) {
  if (!is_fallback_core(chosen)) return nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

inline BlasKernels select_blas_kernels() {
  BlasKernels k{openblas_get_corename(), ""};
  const char* want = std::getenv("OPENBLAS_CORETYPE") ? nullptr : blas_core_for_features(k.core);
  if (!want || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return k;
  ::setenv("OPENBLAS_CORETYPE", want, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  ::unsetenv("OPENBLAS_CORETYPE");  // the environment stays as the user left it (child processes check again)
  k.upgraded_from = k.core;
  k.core = openblas_get_corename();
  return k;
}
}  // namespace detail

// Selected once, thread-safely, before the first OpenBLAS GEMM (cpu::gemm calls this for double).
inline const BlasKernels& blas_kernels() {
  static const BlasKernels k = detail::select_blas_kernels();
  return k;
}

}  // namespace evaclip::cpu
