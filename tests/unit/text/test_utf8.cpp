// UTF-8 decoding with Python's rules: errors='replace' (one U+FFFD per maximal ill-formed subpart) and
// strict decoding, plain and with ftfy's utf-8-variants extras.
#include <gtest/gtest.h>

#include "evaclip/text/utf8.hpp"

namespace evaclip::text {
namespace {

TEST(Utf8, ReplaceMatchesPythonDecoding) {
  // Expected values: bytes.decode('utf-8', errors='replace') in CPython 3.11.
  EXPECT_EQ(decode_utf8_replace("caf\xc3\xa9"), U"café");
  EXPECT_EQ(decode_utf8_replace("caf\xe9"), U"caf\uFFFD");
  EXPECT_EQ(decode_utf8_replace("\xe2\x82\x28"), U"\uFFFD(");            // truncated 3-byte sequence
  EXPECT_EQ(decode_utf8_replace("\xf0\x9f\x98"), U"\uFFFD");              // truncated at the end
  EXPECT_EQ(decode_utf8_replace("\xed\xa0\x80"), U"\uFFFD\uFFFD\uFFFD");  // a surrogate: 3 subparts
  EXPECT_EQ(decode_utf8_replace("\xc0\x80"), U"\uFFFD\uFFFD");            // overlong NUL
  EXPECT_EQ(decode_utf8_replace("\xf4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  EXPECT_EQ(decode_utf8_replace("\xf0\x9f\x98\x80!"), U"\U0001F600!");
  EXPECT_EQ(decode_utf8_replace(std::string_view("a\0b", 3)), std::u32string(U"a\0b", 3));
}

TEST(Utf8, StrictAndVariants) {
  EXPECT_EQ(decode_utf8_strict("\xc3\xa9", false), U"é");
  EXPECT_FALSE(decode_utf8_strict("\xc3", false).has_value());
  EXPECT_FALSE(decode_utf8_strict("\xc0\x80", false).has_value());
  EXPECT_EQ(decode_utf8_strict("a\xc0\x80", true), std::u32string(U"a\0", 2));
  EXPECT_EQ(decode_utf8_strict("\xed\xa0\xbd\xed\xb8\x80", true), U"\U0001F600");  // CESU-8 pair
  EXPECT_FALSE(decode_utf8_strict("\xed\xa0\xbd", true).has_value());              // a lone surrogate
}

TEST(Utf8, EncodeRoundTrips) {
  const std::u32string s = U"a\u00e9\u4e2d\U0001F600";
  EXPECT_EQ(encode_utf8(s), "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
  EXPECT_EQ(decode_utf8_replace(encode_utf8(s)), s);
}

}  // namespace
}  // namespace evaclip::text
