// utf8.hpp — defines UTF-8 <-> UTF-32 conversion with Python's decoding rules (errors='replace' and strict).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evaclip::text {

// Length of the UTF-8 sequence that lead byte b starts and the allowed range of its second byte
// (Unicode's well-formed table): 0 for a byte that cannot start a sequence.
struct Utf8Lead {
  int len;
  unsigned char lo, hi;
};
inline Utf8Lead utf8_lead(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Decodes one sequence at s[i]; returns the code point and sets `used`, or returns -1 with `used` = the
// length of the maximal ill-formed subpart (what Python replaces by one U+FFFD).
inline std::int32_t utf8_decode_one(std::string_view s, std::size_t i, std::size_t& used) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  const Utf8Lead lead = utf8_lead(b0);
  used = 1;
  if (lead.len == 1) return b0;
  if (lead.len == 0) return -1;
  std::uint32_t cp = b0 & (0xFF >> (lead.len + 1));
  for (int k = 1; k < lead.len; ++k) {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    const unsigned char lo = k == 1 ? lead.lo : 0x80, hi = k == 1 ? lead.hi : 0xBF;
    if (b < lo || b > hi) return -1;
    cp = (cp << 6) | (b & 0x3F);
    used = k + 1;
  }
  return static_cast<std::int32_t>(cp);
}

// Python's bytes.decode('utf-8', errors='replace'): each maximal ill-formed subpart becomes U+FFFD.
inline std::u32string decode_utf8_replace(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t used = 0;
    const std::int32_t cp = utf8_decode_one(s, i, used);
    out.push_back(cp < 0 ? U'\uFFFD' : static_cast<char32_t>(cp));
    i += used;
  }
  return out;
}

// Strict decoding; nullopt on any ill-formed byte. With `variants` (ftfy's 'utf-8-variants'), also
// accepts C0 80 as U+0000 and CESU-8 surrogate pairs (ED A0-AF xx ED B0-BF xx) as one astral character.
inline std::optional<std::u32string> decode_utf8_strict(std::string_view s, bool variants) {
  std::u32string out;
  out.reserve(s.size());
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto in = [](unsigned char b, unsigned char lo, unsigned char hi) { return b >= lo && b <= hi; };
  for (std::size_t i = 0; i < s.size();) {
    if (variants && byte(i) == 0xC0 && i + 1 < s.size() && byte(i + 1) == 0x80) {
      out.push_back(0);
      i += 2;
      continue;
    }
    if (variants && byte(i) == 0xED && i + 6 <= s.size() && in(byte(i + 1), 0xA0, 0xAF) &&
        in(byte(i + 2), 0x80, 0xBF) && byte(i + 3) == 0xED && in(byte(i + 4), 0xB0, 0xBF) &&
        in(byte(i + 5), 0x80, 0xBF)) {
      out.push_back(static_cast<char32_t>(((byte(i + 1) & 0x0F) << 16) + ((byte(i + 2) & 0x3F) << 10) +
                                          ((byte(i + 4) & 0x0F) << 6) + (byte(i + 5) & 0x3F) + 0x10000));
      i += 6;
      continue;
    }
    std::size_t used = 0;
    const std::int32_t cp = utf8_decode_one(s, i, used);
    if (cp < 0) return std::nullopt;
    out.push_back(static_cast<char32_t>(cp));
    i += used;
  }
  return out;
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

inline std::string encode_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

// Decodes text known to be valid UTF-8 (the library's own tables).
inline std::u32string utf32(std::string_view valid_utf8) { return decode_utf8_replace(valid_utf8); }

}  // namespace evaclip::text
