// shape.hpp — defines Shape (dimension sizes), contiguous strides, numel and printing "(2, 3, 4)".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "evaclip/core/error.hpp"

namespace evaclip {

using Shape = std::vector<std::int64_t>;
using Strides = std::vector<std::int64_t>;

inline std::int64_t numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

inline Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  std::int64_t acc = 1;
  for (std::size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

inline std::string to_string(const Shape& s) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << (s.size() == 1 ? ",)" : ")");
  return os.str();
}

// Resolves a possibly negative dimension index against a rank, naming the op on failure.
inline std::size_t wrap_dim(std::int64_t d, std::size_t rank, const char* op) {
  const std::int64_t r = static_cast<std::int64_t>(rank);
  EVACLIP_CHECK(d >= -r && d < r, op, ": dimension ", d, " out of range for rank ", rank);
  return static_cast<std::size_t>(d < 0 ? d + r : d);
}

// Product of the dimensions before the last one: the "rows" of a row-wise op on (..., C).
inline std::int64_t rows_of(const Shape& s) { return s.empty() ? 1 : numel(s) / s.back(); }

}  // namespace evaclip
