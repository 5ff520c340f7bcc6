// gemm.cuh (cuda) — defines gemm() and gemm_epilogue(): batched, strided C = alpha op(A) op(B) + beta C
// through cuBLASLt, optionally with a fused bias or bias + GELU epilogue.
//
// Same semantics as ops/cpu/gemm.hpp: row-major, trans flags, leading dimensions 0 = tight, strided
// batches (stride 0 broadcasts A or B). cuBLASLt is column-major, and a row-major (m, n) matrix is the
// column-major (n, m) matrix of its transpose, so we ask cuBLASLt for C^T = op(B)^T op(A)^T: its first
// operand is our B, its second our A, its result (n, m) with leading dimension ldc. The bias then runs
// along the rows of that column-major result, i.e. along the n columns of our C: bias[j] is added to
// C[i][j], which is what linear's y = x W^T + b needs.
//
// Types: float (fp32 math, or TF32 tensor cores when Backend::tf32), bf16 and f16 with fp32 accumulation
// (CUBLAS_COMPUTE_32F) and fp32 alpha/beta, so a 16-bit result is rounded once, as on the CPU.
// One cuBLASLt handle per device, created on first use, and one 32 MiB workspace per (device, stream)
// (GEMMs queued on two streams may run at once, so they must not share scratch). A cache of plans
// (descriptors + the heuristic's algorithm) keyed by shape, types, epilogue and pointer alignments means
// a steady-state call runs no heuristic. The heuristic is told the real alignment of every pointer
// (cuBLASLt otherwise assumes 256 bytes), so views at odd offsets work, on slower kernels. An empty
// reduction (k = 0), which cuBLASLt does not take, is a small kernel computing beta C (+ bias).
//
// Epilogues: bias is exact (fp32 sum of the product and the bias, then one rounding), and is what linear
// and patch_embed use. bias_gelu is cuBLASLt's GELU, the tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), NOT the exact erf GELU that EVA-CLIP uses (the two
// differ by up to 4.7e-4, near x = -2.7): it is offered for experiments only; the model's exact path
// runs the bias epilogue, then activations.cuh's gelu.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <type_traits>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/cuda_memory.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/core/error.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cuda/common.cuh"

// Every cuBLASLt call goes through this check so a failure names the op and cuBLAS's status.
#define EVACLIP_CUBLAS_CHECK(call, op)                                                                            \
  do {                                                                                                            \
    const cublasStatus_t evaclip_st_ = (call);                                                                    \
    EVACLIP_CHECK(evaclip_st_ == CUBLAS_STATUS_SUCCESS, op, ": cuBLASLt: ", cublasLtGetStatusString(evaclip_st_), \
                  " (status ", int(evaclip_st_), ")");                                                            \
  } while (0)

namespace evaclip::cuda {

enum class Epilogue : std::uint8_t {
  none,       // D = alpha op(A) op(B) + beta C
  bias,       // ... + bias[j] on every row: exact
  bias_gelu,  // tanh-approximate GELU of the above: NOT EVA-CLIP's erf GELU (see the header comment)
};

namespace detail {

inline constexpr std::size_t kLtWorkspaceBytes = std::size_t(32) << 20;
inline constexpr std::size_t kLtMaxPlans = 512;  // the model uses a few dozen shapes; beyond this, start over

template <class T>
constexpr cudaDataType_t lt_type() {
  if constexpr (std::is_same_v<T, float>) return CUDA_R_32F;
  else if constexpr (std::is_same_v<T, bf16>) return CUDA_R_16BF;
  else if constexpr (std::is_same_v<T, f16>) return CUDA_R_16F;
  else static_assert(always_false<T>, "cuda::gemm: storage types are float, bf16 and f16 (no double on CUDA)");
}

// The largest power of two <= 256 dividing the address of every batch item (p + i * stride_bytes).
inline std::uint32_t lt_alignment(const void* p, std::int64_t stride_bytes) {
  const std::uint64_t v = std::uint64_t(reinterpret_cast<std::uintptr_t>(p)) | std::uint64_t(stride_bytes) | 256u;
  return std::uint32_t(v & (~v + 1));
}

// Everything the heuristic's choice depends on. Alignments are part of it: an algorithm chosen for
// 256-byte aligned pointers may not run on a view at an odd offset.
struct LtKey {
  cudaDataType_t type;
  bool tf32;
  Epilogue epilogue;
  bool trans_a, trans_b;
  std::int64_t m, n, k, lda, ldb, ldc, batch, stride_a, stride_b, stride_c;
  std::uint32_t align_a, align_b, align_c, align_bias;
  auto operator<=>(const LtKey&) const = default;
};

struct LtPlan {
  cublasLtMatmulDesc_t desc = nullptr;
  // In cuBLASLt's operand order: lt_a describes our B, lt_b our A, lt_c our C (also used for D: in place).
  cublasLtMatrixLayout_t lt_a = nullptr, lt_b = nullptr, lt_c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

inline void lt_destroy(LtPlan& p) {
  // Destroy calls on valid objects cannot fail in a way we could act on; their status is ignored.
  if (p.lt_c) (void)cublasLtMatrixLayoutDestroy(p.lt_c);
  if (p.lt_b) (void)cublasLtMatrixLayoutDestroy(p.lt_b);
  if (p.lt_a) (void)cublasLtMatrixLayoutDestroy(p.lt_a);
  if (p.desc) (void)cublasLtMatmulDescDestroy(p.desc);
  p = LtPlan{};
}

// One per device. The mutex covers the plan cache and the call itself, because the cached descriptor's
// bias pointer is rewritten for every call (cuBLASLt reads descriptors while enqueuing, not later).
struct LtContext {
  std::mutex mu;
  cublasLtHandle_t handle = nullptr;
  std::map<void*, void*> workspaces;  // stream -> kLtWorkspaceBytes of device memory
  std::map<LtKey, LtPlan> plans;
};

inline LtContext& lt_context(int device, const char* op) {
  static std::mutex mu;
  static auto* contexts = new std::map<int, LtContext*>();  // leaked on purpose: outlives static tensors
  std::lock_guard<std::mutex> lock(mu);
  LtContext*& ctx = (*contexts)[device];
  if (!ctx) {
    auto fresh = std::make_unique<LtContext>();
    EVACLIP_CUBLAS_CHECK(cublasLtCreate(&fresh->handle), op);
    ctx = fresh.release();
  }
  return *ctx;
}

// The workspace of this stream; the caller holds ctx.mu.
inline void* lt_workspace(LtContext& ctx, void* stream) {
  void*& ws = ctx.workspaces[stream];
  if (!ws) ws = device_alloc(kLtWorkspaceBytes);
  return ws;
}

inline const char* lt_type_name(cudaDataType_t t) {
  return t == CUDA_R_32F ? "f32" : t == CUDA_R_16BF ? "bf16" : t == CUDA_R_16F ? "f16" : "?";
}

inline std::ostream& operator<<(std::ostream& os, const LtKey& k) {
  return os << lt_type_name(k.type) << (k.tf32 ? " (tf32)" : "") << " m=" << k.m << " n=" << k.n << " k=" << k.k
            << " trans_a=" << k.trans_a << " trans_b=" << k.trans_b << " lda=" << k.lda << " ldb=" << k.ldb
            << " ldc=" << k.ldc << " batch=" << k.batch << " strides " << k.stride_a << "/" << k.stride_b << "/"
            << k.stride_c << " epilogue=" << int(k.epilogue) << " alignments " << k.align_a << "/" << k.align_b << "/"
            << k.align_c << "/" << k.align_bias << " bytes";
}

// The problem as cuBLASLt sees it: D (m x n) = op(A) (m x k) op(B) (k x n), column-major, each operand's
// layout given as stored (before its op). Host-only and pure, so the row-major mapping is unit-tested
// without a device (tests/cuda/test_gemm.cu, GemmMapping).
struct LtOperand {
  bool trans;
  std::int64_t rows, cols, ld, stride;
};
struct LtProblem {
  std::int64_t m, n, k;
  LtOperand a, b, c;
};

// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLASLt's A is our B and its B our A.
// A row-major matrix read column-major is its transpose, so each operand keeps its own trans flag: our B
// stored (k, n) reads as (n, k) = op(B)^T untransposed; stored (n, k) [trans_b] reads as (k, n), transposed.
inline LtProblem lt_problem(const LtKey& key) {
  LtProblem p;
  p.m = key.n, p.n = key.m, p.k = key.k;
  p.a = {key.trans_b, key.trans_b ? key.k : key.n, key.trans_b ? key.n : key.k, key.ldb, key.stride_b};
  p.b = {key.trans_a, key.trans_a ? key.m : key.k, key.trans_a ? key.k : key.m, key.lda, key.stride_a};
  p.c = {false, key.n, key.m, key.ldc, key.stride_c};
  return p;
}

// A column-major layout of rows x cols with leading dimension ld, batched when batch > 1.
inline cublasLtMatrixLayout_t lt_layout(cudaDataType_t t, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                        std::int64_t batch, std::int64_t stride, const char* op) {
  cublasLtMatrixLayout_t l = nullptr;
  EVACLIP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, t, std::uint64_t(rows), std::uint64_t(cols), ld), op);
  if (batch > 1) {
    const std::int32_t count = std::int32_t(batch);
    const bool ok = cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count) ==
                        CUBLAS_STATUS_SUCCESS &&
                    cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                     sizeof stride) == CUBLAS_STATUS_SUCCESS;
    if (!ok) {
      (void)cublasLtMatrixLayoutDestroy(l);
      fail(op, ": cuBLASLt rejected a batch of ", batch, " with stride ", stride);
    }
  }
  return l;
}

// Builds the descriptors for `key` and runs the heuristic once. `bias` is only read for its alignment.
inline LtPlan lt_make_plan(cublasLtHandle_t handle, const LtKey& key, const void* bias, const char* op) {
  LtPlan p;
  try {
    const cublasComputeType_t compute = key.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    EVACLIP_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, compute, CUDA_R_32F), op);
    const LtProblem pr = lt_problem(key);
    const cublasOperation_t op_a = pr.a.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_b = pr.b.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    EVACLIP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a), op);
    EVACLIP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b), op);
    const cublasLtEpilogue_t epi = key.epilogue == Epilogue::none   ? CUBLASLT_EPILOGUE_DEFAULT
                                   : key.epilogue == Epilogue::bias ? CUBLASLT_EPILOGUE_BIAS
                                                                    : CUBLASLT_EPILOGUE_GELU_BIAS;
    EVACLIP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), op);
    if (key.epilogue != Epilogue::none) {
      const std::int32_t bias_type = key.type;  // the bias is stored like C (a cudaDataType_t as int32)
      EVACLIP_CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type),
          op);
      // The heuristic reads the bias pointer's value for its alignment; the batch shares one bias
      // (BIAS_BATCH_STRIDE keeps its default 0).
      EVACLIP_CUBLAS_CHECK(
          cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), op);
    }
    p.lt_a = lt_layout(key.type, pr.a.rows, pr.a.cols, pr.a.ld, key.batch, pr.a.stride, op);
    p.lt_b = lt_layout(key.type, pr.b.rows, pr.b.cols, pr.b.ld, key.batch, pr.b.stride, op);
    p.lt_c = lt_layout(key.type, pr.c.rows, pr.c.cols, pr.c.ld, key.batch, pr.c.stride, op);

    cublasLtMatmulPreference_t pref = nullptr;
    EVACLIP_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref), op);
    const std::uint64_t ws = kLtWorkspaceBytes;
    // cuBLASLt's A/B are our B/A, so their alignments swap too.
    const std::uint32_t al_a = key.align_b, al_b = key.align_a, al_c = key.align_c;
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    cublasStatus_t st =
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a);
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b);
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c);
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c);
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.lt_a, p.lt_b, p.lt_c, p.lt_c, pref, 1, &result, &found);
    (void)cublasLtMatmulPreferenceDestroy(pref);
    // NOT_SUPPORTED is how the heuristic says "no algorithm"; report it as such, with the whole key.
    EVACLIP_CHECK(st == CUBLAS_STATUS_SUCCESS || st == CUBLAS_STATUS_NOT_SUPPORTED, op,
                  ": cuBLASLt heuristic: ", cublasLtGetStatusString(st), " for ", key);
    EVACLIP_CHECK(st == CUBLAS_STATUS_SUCCESS && found > 0, op, ": cuBLASLt has no algorithm for ", key);
    p.algo = result.algo;
  } catch (...) {
    lt_destroy(p);
    throw;
  }
  return p;
}

// C = beta C (+ bias[j]) (GELU'd for bias_gelu) when k = 0: an empty product, which cuBLASLt does not take.
template <class T>
__global__ void gemm_empty_k_kernel(T* c, const T* bias, float beta, bool gelu, std::int64_t m, std::int64_t n,
                                    std::int64_t ldc, std::int64_t stride_c, std::int64_t total) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t j = i % n, row = i / n % m, item = i / (m * n);
    T* p = c + item * stride_c + row * ldc + j;
    float v = beta == 0.0f ? 0.0f : beta * to_f32(*p);  // beta = 0 never reads C (BLAS convention)
    if (bias) v += to_f32(bias[j]);
    if (gelu) v = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    *p = from_f32<T>(v);
  }
}

// The plan key of a call: leading dimensions resolved (0 = tight), batch strides dropped for one item.
template <class T>
LtKey lt_key(const cpu::GemmShape& s, bool tf32, Epilogue ep, const T* a, const T* b, const T* c, const T* bias) {
  const bool batched = s.batch > 1;
  const std::int64_t es = sizeof(T);
  LtKey key{};
  key.type = lt_type<T>();
  key.tf32 = std::is_same_v<T, float> && tf32;
  key.epilogue = ep;
  key.trans_a = s.trans_a, key.trans_b = s.trans_b;
  key.m = s.m, key.n = s.n, key.k = s.k;
  key.lda = s.lda ? s.lda : (s.trans_a ? s.m : s.k);  // row lengths of A, B, C as stored
  key.ldb = s.ldb ? s.ldb : (s.trans_b ? s.k : s.n);
  key.ldc = s.ldc ? s.ldc : s.n;
  key.batch = s.batch;
  key.stride_a = batched ? s.stride_a : 0;
  key.stride_b = batched ? s.stride_b : 0;
  key.stride_c = batched ? s.stride_c : 0;
  key.align_a = lt_alignment(a, key.stride_a * es);
  key.align_b = lt_alignment(b, key.stride_b * es);
  key.align_c = lt_alignment(c, key.stride_c * es);
  key.align_bias = ep == Epilogue::none ? 0 : lt_alignment(bias, 0);
  return key;
}

// The one entry point: checks the arguments (errors name `op`), then runs the cached plan.
template <class T>
void lt_matmul(Backend be, const cpu::GemmShape& s, double alpha, const T* a, const T* b, double beta, T* c,
               const T* bias, Epilogue ep, const char* op) {
  EVACLIP_CHECK(s.m >= 0 && s.n >= 0 && s.k >= 0 && s.batch >= 0, op, ": negative size m=", s.m, " n=", s.n, " k=", s.k,
                " batch=", s.batch);
  const LtKey key = lt_key(s, be.tf32, ep, a, b, c, bias);
  const std::int64_t a_cols = s.trans_a ? s.m : s.k, b_cols = s.trans_b ? s.k : s.n;  // row lengths as stored
  EVACLIP_CHECK(key.lda >= a_cols && key.ldb >= b_cols && key.ldc >= s.n, op, ": leading dimensions lda=", key.lda,
                " ldb=", key.ldb, " ldc=", key.ldc, " shorter than the stored rows (", a_cols, ", ", b_cols, ", ", s.n,
                ") for m=", s.m, " n=", s.n, " k=", s.k, " trans_a=", s.trans_a, " trans_b=", s.trans_b);
  if (s.m == 0 || s.n == 0 || s.batch == 0) return;  // nothing to write
  EVACLIP_CHECK(c, op, ": null C for an (", s.m, ", ", s.n, ") result");
  EVACLIP_CHECK(s.k == 0 || (a && b), op, ": null ", a ? "B" : "A", " operand for m=", s.m, " n=", s.n, " k=", s.k);
  EVACLIP_CHECK(ep == Epilogue::none || bias, op, ": the bias epilogue needs a bias vector of ", s.n, " elements");
  EVACLIP_CHECK(s.batch == 1 || s.stride_c != 0, op, ": stride_c 0 with a batch of ", s.batch,
                " would have every item write the same C");
  EVACLIP_CHECK(s.batch <= INT32_MAX, op, ": batch ", s.batch, " exceeds cuBLASLt's 32-bit batch count");
  const float alpha_f = float(alpha), beta_f = float(beta);

  if (s.k == 0) {
    const std::int64_t total = s.batch * s.m * s.n;
    const int threads = 256;
    const int blocks = int(std::min<std::int64_t>(ceil_div(total, threads), 65536));
    gemm_empty_k_kernel<T><<<blocks, threads, 0, stream_of(be)>>>(c, ep == Epilogue::none ? nullptr : bias, beta_f,
                                                                  ep == Epilogue::bias_gelu, s.m, s.n, key.ldc,
                                                                  key.stride_c, total);
    check_launch(be, op);
    return;
  }

  int device = 0;
  EVACLIP_CUDA_CHECK(cudaGetDevice(&device), op);
  LtContext& ctx = lt_context(device, op);
  std::lock_guard<std::mutex> lock(ctx.mu);
  auto it = ctx.plans.find(key);
  if (it == ctx.plans.end()) {
    if (ctx.plans.size() >= kLtMaxPlans) {
      for (auto& kv : ctx.plans) lt_destroy(kv.second);
      ctx.plans.clear();
    }
    it = ctx.plans.emplace(key, lt_make_plan(ctx.handle, key, bias, op)).first;
  }
  LtPlan& plan = it->second;
  if (ep != Epilogue::none) {
    const void* bp = bias;
    EVACLIP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp),
                         op);
  }
  void* ws = lt_workspace(ctx, be.stream);
  EVACLIP_CUBLAS_CHECK(cublasLtMatmul(ctx.handle, plan.desc, &alpha_f, b, plan.lt_a, a, plan.lt_b, &beta_f, c,
                                      plan.lt_c, c, plan.lt_c, &plan.algo, ws, kLtWorkspaceBytes, stream_of(be)),
                       op);
  check_launch(be, op);
}

}  // namespace detail

// C = alpha op(A) op(B) + beta C, batched and strided as cpu::gemm (see cpu::GemmShape). Device pointers.
template <class T>
void gemm(Backend be, const cpu::GemmShape& s, double alpha, const T* a, const T* b, double beta, T* c) {
  detail::lt_matmul(be, s, alpha, a, b, beta, c, static_cast<const T*>(nullptr), Epilogue::none, "gemm");
}

// C = epilogue(op(A) op(B) + bias): bias (n,) is added to every row of every batch item; Epilogue::none
// ignores bias. C is overwritten (beta = 0, never read).
template <class T>
void gemm_epilogue(Backend be, const cpu::GemmShape& s, const T* a, const T* b, const T* bias, Epilogue ep, T* c) {
  detail::lt_matmul(be, s, 1.0, a, b, 0.0, c, bias, ep, "gemm_epilogue");
}

}  // namespace evaclip::cuda
