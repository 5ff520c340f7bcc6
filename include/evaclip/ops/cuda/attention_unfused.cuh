// attention_unfused.cuh (cuda) — defines unfused_rope_attention_forward: the ablation baseline of the
// fused attention kernel (RoPE kernel, score GEMM, softmax kernel, value GEMM), and the RoPE pair rotation
// both paths share.
//
// The four steps are what an unfused framework runs: rotate q and k into scratch (one thread per adjacent
// pair, float math, rounded to T as the CPU rounds them), S = scale q k^T through cuda::gemm (cuBLASLt),
// P = softmax(S) row-wise with the row log-sum-exp (one warp per row, the keys after the query masked when
// causal), O = P v through cuda::gemm. S stays in float: bf16 scores, as PyTorch's eager math attention
// keeps them, put O past the 1e-2 tolerance (docs/performance.md, "Attention scores in float"). So the
// rotation pass writes q/k widened to float and the score GEMM runs in TF32, which is exact for 16-bit inputs
// (their significands fit TF32's); fp32 inputs run plain FP32 GEMMs. P is rounded to T for the second GEMM,
// as the fused kernel rounds it. At most kUnfusedMaxScores scores (512 MiB in float) are held at once: heads
// run in passes, as in the CPU reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "evaclip/core/dtype.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/attention_args.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cuda/common.cuh"
#include "evaclip/ops/cuda/gemm.cuh"

namespace evaclip::cuda {

namespace attention_detail {

// One RoPE pair, y = R x, without FMA contraction: the products are rounded separately, as the CPU
// reference (ops/cpu/rope.hpp, compiled without FMA) rounds them, so both round y to T from the same float.
__device__ __forceinline__ void rotate_pair(float x0, float x1, float c0, float c1, float s0, float s1, float& y0,
                                            float& y1) {
  y0 = __fsub_rn(__fmul_rn(x0, c0), __fmul_rn(x1, s0));
  y1 = __fadd_rn(__fmul_rn(x1, c1), __fmul_rn(x0, s1));
}

// y (float), x: (B, H, L, hd); one thread per adjacent pair. y is the rotated x rounded to T, widened;
// tokens t < prefix, and every token without tables (cos == nullptr), are x widened.
template <class T>
__global__ void rope_widen_kernel(float* __restrict__ y, const T* __restrict__ x, const float* __restrict__ cos,
                                  const float* __restrict__ sin, std::int64_t pairs, int H, int L, int hd, int prefix,
                                  bool per_sample) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= pairs) return;
  const std::int64_t row = i / (hd / 2);  // (b, h, t)
  const int d = int(i % (hd / 2)) * 2, t = int(row % L);
  const std::int64_t b = row / (std::int64_t(H) * L);
  const T* xr = x + row * hd + d;
  float* yr = y + row * hd + d;
  if (!cos || t < prefix) {
    yr[0] = to_f32(xr[0]);
    yr[1] = to_f32(xr[1]);
    return;
  }
  const std::int64_t off = ((per_sample ? b * (L - prefix) : 0) + (t - prefix)) * hd + d;
  float y0, y1;
  rotate_pair(to_f32(xr[0]), to_f32(xr[1]), cos[off], cos[off + 1], sin[off], sin[off + 1], y0, y1);
  yr[0] = to_f32(from_f32<T>(y0));
  yr[1] = to_f32(from_f32<T>(y1));
}

// y (float), x: n elements, widened (odd head dims without RoPE, where pairs do not tile a row).
template <class T>
__global__ void widen_kernel(float* __restrict__ y, const T* __restrict__ x, std::int64_t n) {
  const std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = to_f32(x[i]);
}

// s: rows of L float scores; p: their probabilities (T), 0 for masked keys; lse: the row log-sum-exp.
// Row r is query r % L. One warp per row: an online (max, sum) per lane over a strided pass, merged
// across the warp, then a second pass writes exp(s - max) / sum.
template <class T>
__global__ void softmax_rows_kernel(T* __restrict__ p, float* __restrict__ lse, const float* __restrict__ s,
                                    std::int64_t rows, int L, bool causal) {
  const std::int64_t row = std::int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (row >= rows) return;  // whole warps leave together
  const int lane = threadIdx.x % 32, vis = causal ? int(row % L) + 1 : L;
  const float* sr = s + row * L;
  T* pr = p + row * L;
  float m = -INFINITY, l = 0.0f;
  for (int j = lane; j < vis; j += 32) {
    const float x = sr[j], mn = fmaxf(m, x);
    l = l * expf(m - mn) + expf(x - mn);  // m = -inf on the first key: exp(-inf) = 0
    m = mn;
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o), l2 = __shfl_xor_sync(0xffffffffu, l, o);
    const float mn = fmaxf(m, m2);
    // A lane that saw no key has m = -inf, l = 0; after the last step mn is finite (key 0 is visible).
    l = (m == -INFINITY ? 0.0f : l * expf(m - mn)) + (m2 == -INFINITY ? 0.0f : l2 * expf(m2 - mn));
    m = mn;
  }
  const float inv = 1.0f / l;
  for (int j = lane; j < L; j += 32) pr[j] = from_f32<T>(j < vis ? expf(sr[j] - m) * inv : 0.0f);
  if (lane == 0) lse[row] = m + logf(l);
}

// Heads per pass: as many as fit kUnfusedMaxScores scores, at least one.
inline constexpr std::int64_t kUnfusedMaxScores = std::int64_t(1) << 27;

// c[h] (m, n) = alpha op(a[h]) op(b[h]) for `heads` tight row-major blocks.
template <class T>
void head_gemm(Backend be, std::int64_t heads, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
               const T* a, const T* b, T* c) {
  cpu::GemmShape s;
  s.trans_b = tb;
  s.m = m, s.n = n, s.k = k;
  s.batch = heads;
  s.stride_a = m * k, s.stride_b = k * n, s.stride_c = m * n;
  gemm(be, s, alpha, a, b, 0.0, c);
}

}  // namespace attention_detail

// As rope_attention_forward (device pointers; no RoPE without tables).
template <class T>
void unfused_rope_attention_forward(Backend be, T* o, float* lse, const AttentionArgs<T, float>& a) {
  namespace ad = attention_detail;
  const std::int64_t BH = a.batch * a.heads, L = a.tokens, hd = a.head_dim, n = L * hd;
  Tensor qf = Tensor::empty({BH * n}, DType::f32, Device::cuda), kf = Tensor::empty({BH * n}, DType::f32, Device::cuda);
  for (auto [dst, src] : {std::pair{qf.data<float>(), a.q}, std::pair{kf.data<float>(), a.k}}) {
    if (hd % 2 == 0) {
      const std::int64_t pairs = BH * n / 2;
      ad::rope_widen_kernel<T><<<unsigned(ceil_div(pairs, 256)), 256, 0, stream_of(be)>>>(
          dst, src, a.cos, a.sin, pairs, int(a.heads), int(L), int(hd), int(a.prefix), a.per_sample);
    } else {  // no RoPE (the op requires an even head dim for it)
      ad::widen_kernel<T><<<unsigned(ceil_div(BH * n, 256)), 256, 0, stream_of(be)>>>(dst, src, BH * n);
    }
    check_launch(be, "rope_attention_forward (unfused rope)");
  }
  Backend score_be = be;
  score_be.tf32 = !std::is_same_v<T, float>;  // exact for 16-bit inputs (see above)
  const std::int64_t pass = std::clamp<std::int64_t>(ad::kUnfusedMaxScores / (L * L), 1, BH);
  Tensor s = Tensor::empty({pass * L * L}, DType::f32, Device::cuda);
  Tensor p = Tensor::empty({pass * L * L}, dtype_of<T>(), Device::cuda);
  for (std::int64_t h0 = 0; h0 < BH; h0 += pass) {
    const std::int64_t nh = std::min(pass, BH - h0), rows = nh * L;
    ad::head_gemm(score_be, nh, true, L, L, hd, a.scale, qf.data<float>() + h0 * n, kf.data<float>() + h0 * n,
                  s.data<float>());   // S = scale q k^T
    constexpr int kRowsPerBlock = 8;  // 8 warps, 256 threads
    ad::softmax_rows_kernel<T><<<unsigned(ceil_div(rows, kRowsPerBlock)), 32 * kRowsPerBlock, 0, stream_of(be)>>>(
        p.data<T>(), lse + h0 * L, s.data<float>(), rows, int(L), a.causal);
    check_launch(be, "rope_attention_forward (unfused softmax)");
    ad::head_gemm(be, nh, false, L, hd, L, 1.0, p.data<T>(), a.v + h0 * n, o + h0 * n);  // O = P v
  }
}

}  // namespace evaclip::cuda
