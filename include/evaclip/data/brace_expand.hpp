// brace_expand.hpp — defines expand_braces and expand_shard_list: bash-style brace patterns for shard lists
// ("data/{00000..00099}.tar", "{a,b}/x.tar", several patterns joined by "::" as open_clip takes them).
//
// As bash expands them: lists {a,b,} (empty items allowed), integer ranges {x..y} and {x..y..step}
// (descending too; zero-padded to the wider end when either end has a leading zero), letter ranges {a..e},
// nesting, and several braces in one word (the leftmost varies slowest). Unlike bash, which leaves a brace
// it cannot expand as literal text, a malformed or unbalanced brace is an error: in a shard list it is
// almost always a typo.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "evaclip/core/error.hpp"

namespace evaclip::data {

namespace detail {

// Bounds one pattern's expansion, so that a typo such as {0..99999999999} fails instead of filling memory.
inline constexpr std::int64_t kMaxBraceItems = 10'000'000;

inline bool parse_brace_int(std::string_view s, std::int64_t& v) {
  std::size_t i = s.starts_with('-') ? 1 : 0;
  if (i == s.size() || s.size() - i > 18) return false;
  for (std::size_t k = i; k < s.size(); ++k)
    if (s[k] < '0' || s[k] > '9') return false;
  v = std::strtoll(std::string(s).c_str(), nullptr, 10);
  return true;
}

// A zero-padded decimal of at least `width` characters, the sign counted, as bash writes it.
inline std::string padded(std::int64_t v, std::size_t width) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  const std::size_t sign = v < 0 ? 1 : 0;
  if (digits.size() + sign < width) digits.insert(0, width - digits.size() - sign, '0');
  return (v < 0 ? "-" : "") + digits;
}

// The items of a range body "x..y" or "x..y..step"; false when the body is not a range.
inline bool expand_range(std::string_view body, std::vector<std::string>& out) {
  const std::size_t d1 = body.find("..");
  if (d1 == std::string_view::npos) return false;
  const std::string_view lo = body.substr(0, d1), rest = body.substr(d1 + 2);
  const std::size_t d2 = rest.find("..");
  const std::string_view hi = rest.substr(0, d2);
  std::int64_t step = 1;
  if (d2 != std::string_view::npos && (!parse_brace_int(rest.substr(d2 + 2), step) || step == 0)) return false;
  step = step < 0 ? -step : step;
  std::int64_t a = 0, b = 0;
  const bool letters = lo.size() == 1 && hi.size() == 1 && std::isalpha(static_cast<unsigned char>(lo[0])) &&
                       std::isalpha(static_cast<unsigned char>(hi[0]));
  if (letters) {
    a = lo[0], b = hi[0];
  } else if (!parse_brace_int(lo, a) || !parse_brace_int(hi, b)) {
    return false;
  }
  const auto zero_led = [](std::string_view s) {
    if (s.starts_with('-')) s.remove_prefix(1);
    return s.size() > 1 && s[0] == '0';
  };
  const std::size_t width = zero_led(lo) || zero_led(hi) ? std::max(lo.size(), hi.size()) : 0;
  if ((b > a ? b - a : a - b) / step >= kMaxBraceItems) return false;
  for (std::int64_t v = a; a <= b ? v <= b : v >= b; v += a <= b ? step : -step)
    out.push_back(letters ? std::string(1, char(v)) : padded(v, width));
  return true;
}

inline std::vector<std::string> expand(std::string_view s, const std::string& pattern) {
  const std::size_t open = s.find('{');
  const std::size_t stray = s.substr(0, open).find('}');
  EVACLIP_CHECK(stray == std::string_view::npos, "brace pattern '", pattern, "': unmatched '}'");
  if (open == std::string_view::npos) return {std::string(s)};
  std::size_t close = open, depth = 0;
  std::vector<std::size_t> commas;  // top-level commas inside the brace
  for (; close < s.size(); ++close) {
    if (s[close] == '{') ++depth;
    if (s[close] == '}' && --depth == 0) break;
    if (s[close] == ',' && depth == 1) commas.push_back(close);
  }
  EVACLIP_CHECK(close < s.size(), "brace pattern '", pattern, "': unmatched '{'");
  std::vector<std::string> items;
  if (!commas.empty()) {
    commas.push_back(close);
    for (std::size_t k = 0, from = open + 1; k < commas.size(); from = commas[k++] + 1)
      for (std::string& e : expand(s.substr(from, commas[k] - from), pattern)) items.push_back(std::move(e));
  } else if (!expand_range(s.substr(open + 1, close - open - 1), items)) {
    fail("brace pattern '", pattern, "': '", s.substr(open, close - open + 1),
         "' is neither a list {a,b} nor a range {00..99} or {0..99..step}");
  }
  const std::vector<std::string> tails = expand(s.substr(close + 1), pattern);
  EVACLIP_CHECK(std::int64_t(items.size()) * std::int64_t(tails.size()) <= kMaxBraceItems, "brace pattern '", pattern,
                "': more than ", kMaxBraceItems, " names");
  std::vector<std::string> out;
  out.reserve(items.size() * tails.size());
  const std::string_view head = s.substr(0, open);
  for (const std::string& item : items)
    for (const std::string& tail : tails) out.push_back(std::string(head) + item + tail);
  return out;
}

}  // namespace detail

// Every name one pattern stands for, in bash's order.
inline std::vector<std::string> expand_braces(const std::string& pattern) { return detail::expand(pattern, pattern); }

// Patterns joined by "::" (open_clip's --train-data convention): their expansions, concatenated in order.
inline std::vector<std::string> expand_shard_list(const std::string& spec) {
  std::vector<std::string> out;
  for (std::size_t from = 0;;) {
    const std::size_t sep = spec.find("::", from);
    const std::string part = spec.substr(from, sep == std::string::npos ? std::string::npos : sep - from);
    EVACLIP_CHECK(!part.empty(), "shard list '", spec, "': empty pattern between '::'");
    for (std::string& name : expand_braces(part)) out.push_back(std::move(name));
    if (sep == std::string::npos) return out;
    from = sep + 2;
  }
}

}  // namespace evaclip::data
