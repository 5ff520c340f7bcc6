// test_util.hpp — defines the test helpers: seeded random tensors and vectors, allclose with a readable
// report, the relative error against a reference, and EXPECT_THROW_MSG for checking that an error message
// names the culprit.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "evaclip/evaclip.hpp"

namespace evaclip::test {

// Compares b against the reference a: |a - b| <= atol + rtol |a| everywhere (NaN never matches).
inline ::testing::AssertionResult allclose(const Tensor& ref, const Tensor& got, double atol, double rtol) {
  if (ref.shape() != got.shape())
    return ::testing::AssertionFailure() << "shape " << to_string(got.shape()) << " vs reference "
                                         << to_string(ref.shape());
  const auto a = ref.to_vector(), b = got.to_vector();
  double worst = 0;
  std::size_t wi = 0, bad = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a[i] - b[i]), lim = atol + rtol * std::abs(a[i]);
    const double frac = std::isnan(err) ? INFINITY : err / lim;
    if (frac > 1) ++bad;
    if (frac > worst || std::isnan(frac)) worst = frac, wi = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ; worst [" << wi
                                       << "]: reference " << a[wi] << " got " << b[wi] << " (" << worst
                                       << "x the tolerance " << atol << " + " << rtol << "|ref|)";
}

inline ::testing::AssertionResult allclose(const Tensor& ref, const Tensor& got, Tolerance tol) {
  return allclose(ref, got, tol.atol, tol.rtol);
}

// Absolute path of a file under tests/data (found from this header's own path).
inline std::string data_path(const std::string& rel) {
  const std::string here = __FILE__;  // .../tests/common/test_util.hpp
  return here.substr(0, here.rfind("/common/")) + "/data/" + rel;
}

inline Tensor randn(Shape s, DType dt = DType::f64, std::uint64_t seed = 1, double std = 1.0) {
  Rng rng(seed);
  return Tensor::randn(std::move(s), dt, rng, std);
}

// n standard-normal values for the raw-pointer kernel tests.
template <class T = float>
std::vector<T> random_values(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> d;
  std::vector<T> v(n);
  for (auto& x : v) x = T(d(gen));
  return v;
}

// max |ref - got| / max |ref| (the parity measure: relative to the tensor's largest magnitude).
inline double rel_err(const Tensor& ref, const Tensor& got) {
  const auto a = ref.to_vector(), b = got.to_vector();
  EXPECT_EQ(a.size(), b.size());
  double scale = 0, err = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, std::abs(a[i]));
    err = std::max(err, std::abs(a[i] - b[i]));
  }
  return scale > 0 ? err / scale : err;
}

// The values of an integer tensor.
inline std::vector<std::int64_t> int64_values(const Tensor& t) {
  const Tensor c = t.contiguous();
  return {c.data<std::int64_t>(), c.data<std::int64_t>() + c.numel()};
}

}  // namespace evaclip::test

// Expects `stmt` to throw evaclip::Error whose message contains `substr`.
#define EXPECT_THROW_MSG(stmt, substr)                                                         \
  do {                                                                                         \
    try {                                                                                      \
      stmt;                                                                                    \
      ADD_FAILURE() << "expected an evaclip::Error containing \"" << (substr) << "\"";         \
    } catch (const ::evaclip::Error& e) {                                                      \
      EXPECT_NE(std::string(e.what()).find(substr), std::string::npos) << "message: " << e.what(); \
    }                                                                                          \
  } while (0)
