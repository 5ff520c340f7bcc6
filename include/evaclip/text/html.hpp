// html.hpp — defines HTML character-reference decoding: Python's html.unescape and ftfy's unescape_html.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "evaclip/text/text_tables.hpp"
#include "evaclip/text/utf8.hpp"

namespace evaclip::text {

namespace detail {

using EntityMap = std::unordered_map<std::string, std::u32string>;

inline const EntityMap& html5_entities() {  // "amp;" -> "&", "amp" -> "&", ...
  static const EntityMap map = [] {
    EntityMap m;
    for (const auto& [name, value] : tables::kHtml5Entities) m.emplace(name, utf32(value));
    return m;
  }();
  return map;
}

inline const EntityMap& ftfy_upper_entities() {
  static const EntityMap map = [] {
    EntityMap m;
    for (const auto& [name, value] : tables::kFtfyUpperEntities) m.emplace(name, utf32(value));
    return m;
  }();
  return map;
}

inline bool is_ascii_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
inline bool is_ascii_hex(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= U'a' && (c | 0x20) <= U'f'); }
inline bool is_ascii_alnum(char32_t c) { return is_ascii_digit(c) || ((c | 0x20) >= U'a' && (c | 0x20) <= U'z'); }

// The HTML5 rules for a numeric reference's code point (as html.unescape applies them).
inline std::u32string numeric_reference(std::u32string_view digits, int base) {
  unsigned long long num = 0;
  for (char32_t c : digits) {
    const unsigned d = c <= U'9' ? c - U'0' : (c | 0x20) - U'a' + 10;
    num = std::min<unsigned long long>(num * base + d, 0x7FFFFFFFull);  // saturate: anything huge is invalid
  }
  for (const auto& [cp, repl] : tables::kInvalidCharrefs)
    if (cp == num) return utf32(repl);
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return U"\uFFFD";
  for (const auto& [lo, hi] : tables::kInvalidCodepoints)
    if (num >= lo && num <= hi) return U"";
  return std::u32string(1, static_cast<char32_t>(num));
}

}  // namespace detail

// Python's html.unescape: numeric references (with or without ';') and HTML5 named references, including
// the legacy names without ';' matched as the longest known prefix.
inline std::u32string html_unescape(std::u32string_view s) {
  if (s.find(U'&') == std::u32string_view::npos) return std::u32string(s);
  const auto& html5 = detail::html5_entities();
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    std::size_t j = i + 1;
    if (j < s.size() && s[j] == U'#') {
      const bool hex = j + 1 < s.size() && (s[j + 1] == U'x' || s[j + 1] == U'X');
      std::size_t k = j + (hex ? 2 : 1), start = k;
      while (k < s.size() && (hex ? detail::is_ascii_hex(s[k]) : detail::is_ascii_digit(s[k]))) ++k;
      if (k == start) {  // not a reference: '&' stays, scanning resumes after it
        out.push_back(s[i++]);
        continue;
      }
      out += detail::numeric_reference(s.substr(start, k - start), hex ? 16 : 10);
      i = k + (k < s.size() && s[k] == U';' ? 1 : 0);
      continue;
    }
    // Named: up to 32 characters other than \t \n \f space < & # ;, then an optional ';'.
    std::size_t k = j;
    while (k < s.size() && k - j < 32 && std::u32string_view(U"\t\n\f <&#;").find(s[k]) == std::u32string_view::npos) ++k;
    if (k == j) {
      out.push_back(s[i++]);
      continue;
    }
    if (k < s.size() && s[k] == U';') ++k;
    const std::u32string_view name = s.substr(j, k - j);
    const std::string key = encode_utf8(name);
    if (auto it = html5.find(key); it != html5.end()) {
      out += it->second;
    } else {
      bool found = false;
      for (std::size_t x = name.size() - 1; x > 1 && !found; --x) {
        if (auto p = html5.find(encode_utf8(name.substr(0, x))); p != html5.end()) {
          out += p->second;
          out += name.substr(x);
          found = true;
        }
      }
      if (!found) {
        out.push_back(U'&');
        out += name;
      }
    }
    i = k;
  }
  return out;
}

// ftfy's unescape_html: "&name;" (HTML5 names, plus upper-case variants of lower-case names) and
// "&#...;" references of 1-24 ASCII letters/digits; anything else is left alone.
inline std::u32string ftfy_unescape_html(std::u32string_view s) {
  if (s.find(U'&') == std::u32string_view::npos) return std::u32string(s);
  const auto& html5 = detail::html5_entities();
  const auto& upper = detail::ftfy_upper_entities();
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == U'&') {
      const std::size_t j = i + 1 + (i + 1 < s.size() && s[i + 1] == U'#' ? 1 : 0);
      std::size_t k = j;
      while (k < s.size() && detail::is_ascii_alnum(s[k])) ++k;
      if (k > j && k - j <= 24 && k < s.size() && s[k] == U';') {
        const std::u32string_view match = s.substr(i, k + 1 - i);
        const std::string name = encode_utf8(match.substr(1));
        if (auto it = html5.find(name); it != html5.end() && j == i + 1) {
          out += it->second;
        } else if (auto u = upper.find(name); u != upper.end() && j == i + 1) {
          out += u->second;
        } else if (j == i + 2) {
          const std::u32string un = html_unescape(match);
          out += un.find(U';') == std::u32string::npos ? un : std::u32string(match);
        } else {
          out += match;
        }
        i = k + 1;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

}  // namespace evaclip::text
