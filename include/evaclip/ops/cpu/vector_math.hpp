// vector_math.hpp (cpu) — defines vec::exp / erf / sigmoid and the row reductions (sum, max, sum of squared
// deviations, dot) in forms the compiler vectorises.
//
// Why: glibc's expf/erff are scalar calls, and the row ops (softmax in attention, SwiGLU, GELU, LayerNorm)
// spent most of their time in them. The float versions here are branch-free polynomials that g++ -O3
// vectorises inside `#pragma omp simd` loops (no -ffast-math, no -march needed):
//   exp: Cephes' expf (round x/ln2 to n, degree-6 polynomial on the remainder, times 2^n), within 1.4 ulp
//        on [-87, 88]; below -87 the result is 0 (exp(-inf) = 0), above 88 it is +inf (true overflow starts
//        at 88.72, so overflow and NaN still show), NaN stays NaN.
//   erf: the rational approximation of Eigen / XLA on [-4, 4] (erf is ±1 in float outside), a few ulp.
// double keeps std::exp / std::erf: fp64 is the reference path and must stay exact to the last bits.
// Sums run in a fixed interleaved order (blocked_sum): the bits depend on the data alone.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "evaclip/core/dtype.hpp"

namespace evaclip::cpu::vec {

// mask ? a : b bitwise, for a mask of all ones or all zeros.
[[gnu::always_inline]] inline std::int32_t pick(std::int32_t mask, std::int32_t a, std::int32_t b) {
  return (a & mask) | (b & ~mask);
}

// e^x (see the header comment for the float range).
template <class A>
[[gnu::always_inline]] inline A exp(A x) {
  if constexpr (std::is_same_v<A, float>) {
    // The clamps work on the bit patterns with integer masks: a float comparison may trap under the default
    // -ftrapping-math, and a select g++ turns into a branch; either stops the loop from vectorising.
    const std::int32_t bits = std::bit_cast<std::int32_t>(x);
    const std::int32_t below = -std::int32_t(std::uint32_t(bits) > 0xC2AE0000u);  // ~0 where x < -87 (or -inf)
    const std::int32_t above = -std::int32_t(bits > 0x42B00000);                  // ~0 where x > 88 (or +inf)
    const std::int32_t nan = -std::int32_t((bits & 0x7FFFFFFF) > 0x7F800000);
    const float xc = std::bit_cast<float>(pick(below, std::int32_t(0xC2AE0000u), pick(above, 0x42B00000, bits)));
    // n = round(x / ln 2) by the 1.5·2^23 trick (exact for |n| < 2^22; vectorises, unlike nearbyint on SSE2).
    const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;  // x - n ln2, ln2 split in two
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * r * r + r + 1.0f;
    // 2^n from its exponent bits; 0 below the range.
    const std::int32_t two_n = ~below & std::int32_t(std::uint32_t(std::int32_t(n) + 127) << 23);
    const std::int32_t y = std::bit_cast<std::int32_t>(er * std::bit_cast<float>(two_n));
    return std::bit_cast<float>(pick(nan, bits, pick(above, 0x7F800000, y)));  // NaN stays NaN; overflow is +inf
  } else {
    return std::exp(x);
  }
}

// erf(x).
template <class A>
[[gnu::always_inline]] inline A erf(A x) {
  if constexpr (std::is_same_v<A, float>) {
    const std::int32_t bits = std::bit_cast<std::int32_t>(x);  // clamped to ±4 with integer masks, as in exp
    const std::int32_t four = (bits & std::int32_t(0x80000000u)) | 0x40800000;  // ±4 with the sign of x
    const float xc = std::bit_cast<float>(pick(-std::int32_t((bits & 0x7FFFFFFF) > 0x40800000), four, bits));
    const float x2 = xc * xc;
    float p = -2.72614225801306e-10f;  // odd numerator, divided by x
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;  // even denominator
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return xc * p / q;
  } else {
    return std::erf(x);
  }
}

// σ(x) = 1 / (1 + e^-x); for very negative x, e^-x saturates and σ goes to 0 (its limit).
template <class A>
[[gnu::always_inline]] inline A sigmoid(A x) {
  return A(1) / (A(1) + vec::exp(-x));
}

// sum_j f(j) for j in [0, n), in a fixed order: 8 interleaved partial sums, combined pairwise. The order
// does not depend on alignment or vector width (an `omp simd reduction` may peel a data-dependent number
// of leading elements), so the bits depend on the data alone: the same in every run and thread count.
template <class A, class F>
[[gnu::always_inline]] inline A blocked_sum(std::int64_t n, F&& f) {
  constexpr std::int64_t W = 8;
  A acc[W] = {};
  std::int64_t j = 0;
  for (; j + W <= n; j += W)
    for (std::int64_t l = 0; l < W; ++l) acc[l] += f(j + l);
  for (std::int64_t l = 0; j + l < n; ++l) acc[l] += f(j + l);
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// sum_j x[j] over n values read as A.
template <class A, class T>
A sum(const T* x, std::int64_t n) {
  return blocked_sum<A>(n, [&](std::int64_t j) { return convert<A>(x[j]); });
}

// max_j x[j] (n >= 1); exact in any order.
template <class A, class T>
A max(const T* x, std::int64_t n) {
  A m = -std::numeric_limits<A>::infinity();
#pragma omp simd reduction(max : m)
  for (std::int64_t j = 0; j < n; ++j) m = std::max(m, convert<A>(x[j]));
  return m;
}

// sum_j (x[j] - mean)^2.
template <class A, class T>
A sum_sq_dev(const T* x, std::int64_t n, A mean) {
  return blocked_sum<A>(n, [&](std::int64_t j) {
    const A d = convert<A>(x[j]) - mean;
    return d * d;
  });
}

// sum_j x[j] y[j].
template <class A, class T, class U>
A dot(const T* x, const U* y, std::int64_t n) {
  return blocked_sum<A>(n, [&](std::int64_t j) { return convert<A>(x[j]) * convert<A>(y[j]); });
}

// x[j] = e^(x[j] - shift) in place; returns their sum.
template <class A>
A exp_shift_sum(A* x, std::int64_t n, A shift) {
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) x[j] = vec::exp(x[j] - shift);
  return vec::sum<A>(x, n);  // a second pass over the (cached) row: fused, the loop does not vectorise
}

}  // namespace evaclip::cpu::vec
