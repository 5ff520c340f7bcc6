// pretokenize.hpp — defines pretokenize: the CLIP tokenizer's split of cleaned text into words before BPE.
#pragma once

#include <string_view>

#include "evaclip/text/clean.hpp"
#include "evaclip/text/unicode.hpp"

namespace evaclip::text {

namespace detail {

// Case-insensitive (simple case folding) match of an ASCII lower-case literal at s[i]; the only non-ASCII
// character that folds onto one of these letters is U+017F LONG S (onto 's').
inline bool match_literal_ci(std::u32string_view s, std::size_t i, std::u32string_view lit) {
  if (i + lit.size() > s.size()) return false;
  for (std::size_t k = 0; k < lit.size(); ++k) {
    const char32_t c = s[i + k], p = lit[k];
    const bool alpha = p >= U'a' && p <= U'z';
    if (c != p && !(alpha && c == p - 32) && !(p == U's' && c == 0x17F)) return false;
  }
  return true;
}

// U+0345 COMBINING GREEK YPOGEGRAMMENI folds onto a letter, so under case-insensitive matching the
// reference's "other" class [^\s\p{L}\p{N}] excludes it while \p{L} does not include it: it belongs to
// no piece and is dropped.
inline bool is_other(char32_t c) { return !is_python_space(c) && !is_letter(c) && !is_number(c) && c != 0x345; }

}  // namespace detail

// Calls on_piece(std::u32string_view) for each piece, scanning left to right and trying, at each
// position, in this order: <start_of_text> | <end_of_text> | 's 't 're 've 'm 'll 'd | a run of letters
// (\p{L}+) | one number character (\p{N}) | a run of other non-space characters. Case-insensitive.
template <class OnPiece>
void pretokenize(std::u32string_view s, OnPiece&& on_piece) {
  static constexpr std::u32string_view kAlternatives[] = {U"<start_of_text>", U"<end_of_text>", U"'s", U"'t",
                                                          U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::size_t i = 0;
  while (i < s.size()) {
    const char32_t c = s[i];
    std::size_t len = 0;
    if (c == U'<' || c == U'\'') {
      for (std::u32string_view lit : kAlternatives) {
        if (detail::match_literal_ci(s, i, lit)) {
          len = lit.size();
          break;
        }
      }
    }
    if (len == 0) {
      if (is_letter(c)) {
        len = 1;
        while (i + len < s.size() && is_letter(s[i + len])) ++len;
      } else if (is_number(c)) {
        len = 1;
      } else if (detail::is_other(c)) {
        len = 1;
        while (i + len < s.size() && detail::is_other(s[i + len])) ++len;
      }
    }
    if (len == 0) {  // whitespace (or U+0345): not part of any piece
      ++i;
      continue;
    }
    on_piece(s.substr(i, len));
    i += len;
  }
}

}  // namespace evaclip::text
