// unicode.hpp — defines the ICU-backed Unicode helpers of the text cleaner: NFC, lower-casing, character
// classes, and a compiled-once ICU regular expression over UTF-32 text.
#pragma once

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <memory>
#include <string>
#include <string_view>

#include "evaclip/core/error.hpp"

namespace evaclip::text {

inline icu::UnicodeString to_icu(std::u32string_view s) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(s.data()), static_cast<int32_t>(s.size()));
}

inline std::u32string from_icu(const icu::UnicodeString& s) {
  std::u32string out(static_cast<std::size_t>(s.countChar32()), U'\0');
  UErrorCode status = U_ZERO_ERROR;
  s.toUTF32(reinterpret_cast<UChar32*>(out.data()), static_cast<int32_t>(out.size()), status);
  return out;
}

// Unicode NFC (ftfy's default normalisation).
inline std::u32string nfc(std::u32string_view s) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu::Normalizer2::getNFCInstance(status);
  EVACLIP_CHECK(U_SUCCESS(status), "text: ICU NFC normaliser unavailable: ", u_errorName(status));
  const icu::UnicodeString in = to_icu(s);
  if (norm->isNormalized(in, status) && U_SUCCESS(status)) return std::u32string(s);
  status = U_ZERO_ERROR;
  const icu::UnicodeString out = norm->normalize(in, status);
  EVACLIP_CHECK(U_SUCCESS(status), "text: ICU NFC normalisation failed: ", u_errorName(status));
  return from_icu(out);
}

// Full Unicode lower-casing, context-sensitive (final sigma), as Python's str.lower().
inline std::u32string lower(std::u32string_view s) {
  bool ascii = true;
  for (char32_t c : s) ascii = ascii && c < 0x80;
  if (ascii) {
    std::u32string out(s);
    for (char32_t& c : out)
      if (c >= U'A' && c <= U'Z') c += 32;
    return out;
  }
  icu::UnicodeString u = to_icu(s);
  u.toLower(icu::Locale::getRoot());
  return from_icu(u);
}

// \p{L} and \p{N} (general categories L* and N*).
inline bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= U'a' && (c | 0x20) <= U'z';
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0;
}
inline bool is_number(char32_t c) {
  if (c < 0x80) return c >= U'0' && c <= U'9';
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0;
}

// A regular expression compiled once from an ICU pattern (UTF-8), matched against UTF-32 text.
class Regex {
 public:
  explicit Regex(const char* pattern) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError perr;
    pattern_.reset(icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(pattern), 0, perr, status));
    EVACLIP_CHECK(U_SUCCESS(status), "text: cannot compile a cleaner regex (", u_errorName(status), ")");
  }

  bool search(const icu::UnicodeString& text) const {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(pattern_->matcher(text, status));
    return U_SUCCESS(status) && m->find(status);
  }
  bool search(std::u32string_view text) const { return search(to_icu(text)); }

  // re.sub(pattern, fn, text): fn(matched text) -> replacement; text and results as UTF-16.
  template <class Fn>
  icu::UnicodeString sub(const icu::UnicodeString& text, Fn&& fn) const {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> m(pattern_->matcher(text, status));
    icu::UnicodeString out;
    int32_t pos = 0;
    while (U_SUCCESS(status) && m->find(status)) {
      const int32_t s = m->start(status), e = m->end(status);
      out.append(text, pos, s - pos);
      out.append(fn(text.tempSubStringBetween(s, e)));
      pos = e;
    }
    EVACLIP_CHECK(U_SUCCESS(status), "text: regex match failed (", u_errorName(status), ")");
    out.append(text, pos, text.length() - pos);
    return out;
  }

 private:
  std::unique_ptr<icu::RegexPattern> pattern_;
};

}  // namespace evaclip::text
