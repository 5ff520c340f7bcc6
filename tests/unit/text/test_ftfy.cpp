// ftfy.fix_text re-implementation and the tokenizer's cleaning (expected values from ftfy 6.3.1 and
// open_clip's _clean_lower); the fixture parity test covers thousands more.
#include <gtest/gtest.h>

#include "evaclip/text/clean.hpp"
#include "evaclip/text/ftfy.hpp"

namespace evaclip::text {
namespace {

std::u32string fix(const char* s) { return fix_text(utf32(s)); }

TEST(Ftfy, RepairsMojibake) {
  EXPECT_EQ(fix("\xc3\xa2\xc5\x93\xe2\x80\x9d No problems"), U"✔ No problems");  // "âœ” No problems"
  EXPECT_EQ(fix("s\xc3\x83\xc2\xb3"), U"só");                                     // "sÃ³"
  EXPECT_EQ(fix("voil\xc3\x83 le travail"), U"voilà le travail");                  // a lost no-break space
  EXPECT_EQ(fix("\xc3\xa2\xe2\x82\xac\xc5\x93quoted\xc3\xa2\xe2\x82\xac\xc2\x9d"), U"\"quoted\"");
  EXPECT_EQ(fix("caf\xc3\xa9"), U"café");  // already fine: unchanged
}

TEST(Ftfy, CharacterFixes) {
  EXPECT_EQ(fix("\xef\xac\x82ubberi\xef\xac\x81" "c"), U"flubberific");                 // ligatures
  EXPECT_EQ(fix("\xef\xbc\xac\xef\xbc\xaf\xef\xbc\xb5\xef\xbc\xa4\xe3\x80\x80!"), U"LOUD !");  // width
  EXPECT_EQ(fix("\xe2\x80\x9chi\xe2\x80\x9d it\xe2\x80\x99s"), U"\"hi\" it's");         // quotes
  EXPECT_EQ(fix("Broken text&hellip; it&#x2019;s"), U"Broken text… it's");             // entities
  EXPECT_EQ(fix("<b>&amp;</b>"), U"<b>&amp;</b>");                                      // HTML: left alone
  EXPECT_EQ(fix("\x1b[31mred\x1b[0m\x07"), U"red");                                     // escapes, controls
  EXPECT_EQ(fix("e\xcc\x81"), U"é");                                                    // NFC
  EXPECT_EQ(fix("a\r\nb\rc"), U"a\nb\nc");
}

TEST(Clean, OpenClipLowerCleaning) {
  EXPECT_EQ(clean_text("  A  Photo\tof\n\nA CAT  "), U"a photo of a cat");
  EXPECT_EQ(clean_text("&amp;lt;b&amp;gt; Tom &amp;amp; Jerry"), U"<b> tom & jerry");  // unescaped twice more
  EXPECT_EQ(clean_text("\xe3\x80\x80\xc2\xa0x\xe2\x80\xa8y\x1c"), U"x y");               // Python whitespace
  EXPECT_EQ(clean_text("\xce\xa3\xce\x91\xce\xa3"), U"σας");                              // final sigma
  EXPECT_EQ(clean_text("\xc4\xb0"), U"i\u0307");                                           // full lower-casing
  EXPECT_EQ(clean_text("caf\xe9"), U"caf\uFFFD");                                          // invalid UTF-8
  EXPECT_EQ(clean_text(""), U"");
}

}  // namespace
}  // namespace evaclip::text
