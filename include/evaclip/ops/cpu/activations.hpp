// activations.hpp (cpu) — defines gelu / silu / swiglu forward and backward: the CPU reference activations.
//
// gelu is the exact erf form (as torch's default, not the tanh approximation): gelu(x) = x Φ(x), with
// Φ the standard normal CDF, so gelu'(x) = Φ(x) + x φ(x). silu(x) = x σ(x), silu'(x) = σ(x) (1 + x (1 - σ(x))).
// swiglu(a, g) = silu(a) * g: EVA02's SwiGLU MLP with a = w1 x (the gate) and g = w2 x (the value).
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/elementwise.hpp"  // for_each_element
#include "evaclip/ops/cpu/vector_math.hpp"

namespace evaclip::cpu {

// The float forms of erf and exp are vec::'s vectorisable polynomials (vector_math.hpp); double keeps std::.
// always_inline: an out-of-line call inside the `omp simd` loops keeps them scalar (docs/performance.md: the
// SwiGLU's sigmoid alone was once 10% of an image forward).
template <class Acc>
[[gnu::always_inline]] inline Acc normal_cdf(Acc x) {  // Φ(x)
  return Acc(0.5) * (Acc(1) + vec::erf(x / std::numbers::sqrt2_v<Acc>));
}
template <class Acc>
[[gnu::always_inline]] inline Acc normal_pdf(Acc x) {  // φ(x) = exp(-x²/2) / √(2π)
  return vec::exp(Acc(-0.5) * x * x) * std::numbers::inv_sqrtpi_v<Acc> / std::numbers::sqrt2_v<Acc>;
}
// σ(x); exp(-x) overflows to inf for very negative x, giving the right limit 0.
template <class Acc>
[[gnu::always_inline]] inline Acc sigmoid(Acc x) {
  return vec::sigmoid(x);
}

template <class Acc>
[[gnu::always_inline]] inline Acc silu_derivative(Acc x) {  // d/dx x σ(x) = σ(x) (1 + x (1 - σ(x)))
  const Acc s = sigmoid(x);
  return s * (Acc(1) + x * (Acc(1) - s));
}

// y = gelu(x) over n elements.
template <class Acc, class T>
void gelu_forward(Backend, T* y, const T* x, std::int64_t n) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = convert<Acc>(x[i]);
    y[i] = convert<T>(v * normal_cdf(v));
  });
}

// dx = dy * (Φ(x) + x φ(x)).
template <class Acc, class T>
void gelu_backward(Backend, T* dx, const T* dy, const T* x, std::int64_t n) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = convert<Acc>(x[i]);
    dx[i] = convert<T>(convert<Acc>(dy[i]) * (normal_cdf(v) + v * normal_pdf(v)));
  });
}

// y = silu(x) over n elements.
template <class Acc, class T>
void silu_forward(Backend, T* y, const T* x, std::int64_t n) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = convert<Acc>(x[i]);
    y[i] = convert<T>(v * sigmoid(v));
  });
}

// dx = dy * silu'(x).
template <class Acc, class T>
void silu_backward(Backend, T* dx, const T* dy, const T* x, std::int64_t n) {
  for_each_element(
      n, [&](std::int64_t i) { dx[i] = convert<T>(convert<Acc>(dy[i]) * silu_derivative(convert<Acc>(x[i]))); });
}

// y = silu(a) * g over n elements.
template <class Acc, class T>
void swiglu_forward(Backend, T* y, const T* a, const T* g, std::int64_t n) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = convert<Acc>(a[i]);
    y[i] = convert<T>(v * sigmoid(v) * convert<Acc>(g[i]));
  });
}

// da = dy * g * silu'(a);  dg = dy * silu(a). Either output may be null.
template <class Acc, class T>
void swiglu_backward(Backend, T* da, T* dg, const T* dy, const T* a, const T* g, std::int64_t n) {
  for_each_element(n, [&](std::int64_t i) {
    const Acc v = convert<Acc>(a[i]), d = convert<Acc>(dy[i]);
    if (da) da[i] = convert<T>(d * convert<Acc>(g[i]) * silu_derivative(v));
    if (dg) dg[i] = convert<T>(d * v * sigmoid(v));
  });
}

}  // namespace evaclip::cpu
