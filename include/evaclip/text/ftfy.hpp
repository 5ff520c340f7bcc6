// ftfy.hpp — defines fix_text: ftfy.fix_text with its default settings (mojibake repair, HTML entities,
// C1 controls, ligatures, character width, curly quotes, line breaks, terminal escapes, control
// characters, NFC), re-implemented over the data of text_tables.hpp.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>

#include "evaclip/text/html.hpp"
#include "evaclip/text/text_tables.hpp"
#include "evaclip/text/unicode.hpp"
#include "evaclip/text/utf8.hpp"

namespace evaclip::text {

namespace ftfy_detail {

inline const Regex& badness() { static const Regex r(tables::kBadnessPattern); return r; }
inline const Regex& utf8_detector() { static const Regex r(tables::kUtf8DetectorPattern); return r; }
inline const Regex& altered_utf8() { static const Regex r(tables::kAlteredUtf8Pattern); return r; }
inline const Regex& lossy_utf8() { static const Regex r(tables::kLossyUtf8Pattern); return r; }
inline const Regex& a_grave_word() { static const Regex r(tables::kAGraveWordPattern); return r; }
inline const Regex& ansi_escape() { static const Regex r(tables::kAnsiEscapePattern); return r; }

inline constexpr int kLatin1 = 0, kSloppy1252 = 1, kMacRoman = 8;

// Code point -> byte for each code page (the inverse of its byte table; ftfy's possible_encoding is
// "every character is in the table").
inline const std::unordered_map<char32_t, unsigned char>& encoder(int page) {
  static const auto maps = [] {
    std::array<std::unordered_map<char32_t, unsigned char>, tables::kNumCharmaps> m;
    for (int p = 0; p < tables::kNumCharmaps; ++p)
      for (int b = 0; b < 256; ++b) m[p][tables::kCharmaps[p][b]] = static_cast<unsigned char>(b);
    return m;
  }();
  return maps[page];
}

// Byte strings are held in ICU strings one byte per UTF-16 unit, so the byte patterns apply directly.
inline icu::UnicodeString bytes_to_icu(const std::string& b) {
  icu::UnicodeString u;
  for (unsigned char c : b) u.append(static_cast<UChar>(c));
  return u;
}
inline std::string icu_to_bytes(const icu::UnicodeString& u) {
  std::string b(static_cast<std::size_t>(u.length()), '\0');
  for (int32_t i = 0; i < u.length(); ++i) b[i] = static_cast<char>(u.charAt(i));
  return b;
}

inline bool is_bad(std::u32string_view s) { return badness().search(s); }

inline std::u32string fix_c1_controls(std::u32string s) {
  for (char32_t& c : s)
    if (c >= 0x80 && c <= 0x9F) c = tables::kCharmaps[kSloppy1252][c];
  return s;
}

// restore_byte_a0: "Ã " before a word means "à "; spaces inside UTF-8 sequences were U+00A0.
inline std::string restore_byte_a0(const std::string& bytes) {
  icu::UnicodeString u = a_grave_word().sub(bytes_to_icu(bytes), [](const icu::UnicodeString&) {
    return icu::UnicodeString(u"\u00C3\u00A0 ");
  });
  u = altered_utf8().sub(u, [](const icu::UnicodeString& m) {
    icu::UnicodeString r(m);
    r.findAndReplace(icu::UnicodeString(u" "), icu::UnicodeString(u"\u00A0"));
    return r;
  });
  return icu_to_bytes(u);
}

inline std::string replace_lossy_sequences(const std::string& bytes) {
  return icu_to_bytes(lossy_utf8().sub(bytes_to_icu(bytes), [](const icu::UnicodeString&) {
    return icu::UnicodeString(u"\u00EF\u00BF\u00BD");  // the UTF-8 bytes of U+FFFD
  }));
}

inline std::u32string fix_encoding(std::u32string text);

inline std::u32string decode_inconsistent_utf8(const std::u32string& text) {
  const icu::UnicodeString fixed = utf8_detector().sub(to_icu(text), [&](const icu::UnicodeString& m) {
    const std::u32string sub = from_icu(m);
    return sub.size() < text.size() && is_bad(sub) ? to_icu(fix_encoding(sub)) : icu::UnicodeString(m);
  });
  return from_icu(fixed);
}

// One step of ftfy's fix_encoding: re-encode in the first plausible single-byte code page whose bytes
// decode as UTF-8, else the fallbacks; returns the text unchanged when nothing applies.
inline std::u32string fix_encoding_step(const std::u32string& text) {
  bool ascii = true;
  for (char32_t c : text) ascii = ascii && c < 0x80;
  if (ascii || !is_bad(text)) return text;
  bool latin1_possible = false;
  for (int page = 0; page < tables::kNumCharmaps; ++page) {
    const auto& enc = encoder(page);
    std::string bytes;
    bytes.reserve(text.size());
    bool possible = true;
    for (char32_t c : text) {
      const auto it = enc.find(c);
      if (it == enc.end()) {
        possible = false;
        break;
      }
      bytes.push_back(static_cast<char>(it->second));
    }
    if (!possible) continue;
    latin1_possible = latin1_possible || page == kLatin1;
    if (page != kMacRoman && altered_utf8().search(bytes_to_icu(bytes))) bytes = restore_byte_a0(bytes);
    if (std::string_view(tables::kCharmapNames[page]).starts_with("sloppy")) bytes = replace_lossy_sequences(bytes);
    const bool variants = bytes.find('\xED') != std::string::npos || bytes.find('\xC0') != std::string::npos;
    if (auto decoded = decode_utf8_strict(bytes, variants)) return *decoded;
  }
  if (utf8_detector().search(text)) {
    std::u32string fixed = decode_inconsistent_utf8(text);
    if (fixed != text) return fixed;
  }
  if (latin1_possible) {  // latin-1 -> strict windows-1252 (which leaves 81 8D 8F 90 9D undefined)
    std::u32string fixed = text;
    bool ok = true;
    for (char32_t& c : fixed) {
      if (c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D) ok = false;
      if (c >= 0x80 && c <= 0x9F) c = tables::kCharmaps[kSloppy1252][c];
    }
    if (ok && fixed != text) return fixed;
  }
  for (char32_t c : text)
    if (c >= 0x80 && c <= 0x9F) return fix_c1_controls(text);
  return text;
}

inline std::u32string fix_encoding(std::u32string text) {
  while (true) {
    std::u32string next = fix_encoding_step(text);
    if (next == text) return text;
    text = std::move(next);
  }
}

template <std::size_t N>
inline std::unordered_map<char32_t, std::u32string> char_map(const std::pair<std::uint32_t, const char*> (&t)[N]) {
  std::unordered_map<char32_t, std::u32string> m;
  for (const auto& [cp, repl] : t) m.emplace(cp, utf32(repl));
  return m;
}

inline std::u32string translate(const std::u32string& s, const std::unordered_map<char32_t, std::u32string>& m) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    const auto it = m.find(c);
    if (it == m.end()) out.push_back(c); else out += it->second;
  }
  return out;
}

template <std::size_t N>
inline bool in_ranges(char32_t c, const std::pair<std::uint32_t, std::uint32_t> (&r)[N]) {
  for (const auto& [lo, hi] : r)
    if (c >= lo && c <= hi) return true;
  return false;
}

// The per-character fixers that run after fix_encoding, in ftfy's order.
inline std::u32string fix_characters(std::u32string s) {
  static const auto ligatures = char_map(tables::kLigatures);
  static const auto widths = char_map(tables::kWidthMap);
  s = fix_c1_controls(std::move(s));
  s = translate(s, ligatures);
  s = translate(s, widths);
  for (char32_t& c : s) {  // uncurl_quotes
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = U'\'';
    else if (c >= 0x201C && c <= 0x201F) c = U'"';
  }
  std::u32string t;  // fix_line_breaks
  t.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == U'\r' && i + 1 < s.size() && s[i + 1] == U'\n') continue;
    t.push_back(c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85 ? U'\n' : c);
  }
  if (t.find(U'\x1b') != std::u32string::npos)  // remove_terminal_escapes
    t = from_icu(ansi_escape().sub(to_icu(t), [](const icu::UnicodeString&) { return icu::UnicodeString(); }));
  std::erase_if(t, [](char32_t c) { return in_ranges(c, tables::kControlChars); });
  return nfc(t);
}

// One line: repeat every fix until nothing changes (ftfy's fix_and_explain).
inline std::u32string fix_segment(std::u32string text, bool unescape_html) {
  while (true) {
    const std::u32string orig = text;
    if (unescape_html) text = ftfy_unescape_html(text);
    text = fix_encoding(std::move(text));
    text = fix_characters(std::move(text));
    if (text == orig) return text;
  }
}

}  // namespace ftfy_detail

// ftfy.fix_text(text) with the default configuration. Lines are fixed one at a time; HTML entities are
// left alone from the first line that contains '<' on (ftfy's "auto" rule, which sticks for later lines).
inline std::u32string fix_text(std::u32string_view text) {
  constexpr std::size_t kMaxDecodeLength = 1000000;
  std::u32string out;
  bool unescape = true;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t brk = text.find(U'\n', pos);
    brk = brk == std::u32string_view::npos ? text.size() : brk + 1;
    brk = std::min(brk, pos + kMaxDecodeLength);
    const std::u32string_view segment = text.substr(pos, brk - pos);
    if (unescape && segment.find(U'<') != std::u32string_view::npos) unescape = false;
    out += ftfy_detail::fix_segment(std::u32string(segment), unescape);
    pos = brk;
  }
  return out;
}

}  // namespace evaclip::text
