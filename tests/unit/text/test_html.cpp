// HTML character references: Python's html.unescape and ftfy's stricter unescape_html.
#include <gtest/gtest.h>

#include "evaclip/text/html.hpp"

namespace evaclip::text {
namespace {

TEST(Html, UnescapeMatchesPython) {
  // Expected values: html.unescape(...) in CPython 3.11.
  EXPECT_EQ(html_unescape(U"fish &amp; chips"), U"fish & chips");
  EXPECT_EQ(html_unescape(U"&lt;b&gt;"), U"<b>");
  EXPECT_EQ(html_unescape(U"&amp;amp;"), U"&amp;");                   // once only
  EXPECT_EQ(html_unescape(U"&copy 2024 &copyx"), U"© 2024 ©x");        // legacy names without ';'
  EXPECT_EQ(html_unescape(U"&notit;"), U"¬it;");                     // longest known prefix
  EXPECT_EQ(html_unescape(U"&notin;"), U"∉");
  EXPECT_EQ(html_unescape(U"&#39;&#x27;&#X41"), U"''A");
  EXPECT_EQ(html_unescape(U"&#128;&#150;"), U"€–");                   // windows-1252 fix-ups
  EXPECT_EQ(html_unescape(U"&#0;&#xD800;&#99999999;"), U"\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(html_unescape(U"a&#1;b&#xFFFE;c"), U"abc");               // invalid code points vanish
  EXPECT_EQ(html_unescape(U"&nonexistent; & amp; &#; &#x;"), U"&nonexistent; & amp; &#; &#x;");
  EXPECT_EQ(html_unescape(U"&EACUTE;"), U"&EACUTE;");                 // not an HTML5 name
}

TEST(Html, FtfyUnescape) {
  EXPECT_EQ(ftfy_unescape_html(U"&EACUTE;&eacute;&AMP;"), U"Éé&");    // upper-case variants too
  EXPECT_EQ(ftfy_unescape_html(U"&copy 2024"), U"&copy 2024");        // needs the ';'
  EXPECT_EQ(ftfy_unescape_html(U"&#x41;&#65;"), U"AA");
  EXPECT_EQ(ftfy_unescape_html(U"&#12ab;"), U"&#12ab;");              // would leave a ';': kept
  EXPECT_EQ(ftfy_unescape_html(U"&amp;amp;"), U"&amp;");
}

}  // namespace
}  // namespace evaclip::text
