// clean.hpp — defines clean_text: the CLIP tokenizer's text cleaning (ftfy, HTML unescaping twice,
// whitespace collapsing, lower-casing) from raw UTF-8 bytes to the UTF-32 text that is pre-tokenised.
#pragma once

#include <string>
#include <string_view>

#include "evaclip/text/ftfy.hpp"
#include "evaclip/text/html.hpp"
#include "evaclip/text/text_tables.hpp"
#include "evaclip/text/unicode.hpp"
#include "evaclip/text/utf8.hpp"

namespace evaclip::text {

// Python's str.isspace() (what str.split() with no argument splits on).
inline bool is_python_space(char32_t c) {
  if (c < 0x80) return c == U' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return ftfy_detail::in_ranges(c, tables::kPythonSpace);
}

// " ".join(s.split()): runs of whitespace become one space; leading and trailing whitespace go.
inline std::u32string collapse_whitespace(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_python_space(c)) {
      pending_space = !out.empty();
    } else {
      if (pending_space) out.push_back(U' ');
      pending_space = false;
      out.push_back(c);
    }
  }
  return out;
}

// The reference's "lower" cleaning of one caption. Input bytes that are not valid UTF-8 are decoded as
// Python's bytes.decode('utf-8', errors='replace') does: each maximal ill-formed subsequence becomes U+FFFD.
inline std::u32string clean_text(std::string_view utf8) {
  bool plain = true;  // printable ASCII without '&' or ESC: ftfy and unescaping leave it as it is
  for (char c : utf8) plain = plain && c >= 0x20 && c <= 0x7E && c != '&';
  std::u32string t = decode_utf8_replace(utf8);
  if (!plain) t = html_unescape(html_unescape(fix_text(t)));
  return lower(collapse_whitespace(t));
}

}  // namespace evaclip::text
