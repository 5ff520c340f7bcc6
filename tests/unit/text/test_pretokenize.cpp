// The pre-tokeniser: special tokens, contractions, letter runs, single digits, other runs (case-insensitive).
#include <gtest/gtest.h>

#include <vector>

#include "evaclip/text/pretokenize.hpp"

namespace evaclip::text {
namespace {

std::vector<std::u32string> pieces(std::u32string_view s) {
  std::vector<std::u32string> out;
  pretokenize(s, [&](std::u32string_view p) { out.emplace_back(p); });
  return out;
}

using P = std::vector<std::u32string>;

TEST(Pretokenize, SplitsLikeTheReferenceRegex) {
  EXPECT_EQ(pieces(U"it's 2024!!"), (P{U"it", U"'s", U"2", U"0", U"2", U"4", U"!!"}));
  EXPECT_EQ(pieces(U"we're ''s"), (P{U"we", U"'re", U"''", U"s"}));
  EXPECT_EQ(pieces(U"<start_of_text>a<end_of_text>"), (P{U"<start_of_text>", U"a", U"<end_of_text>"}));
  EXPECT_EQ(pieces(U"<<end_of_text>"), (P{U"<<", U"end", U"_", U"of", U"_", U"text", U">"}));
  EXPECT_EQ(pieces(U"café 中文 ½x"), (P{U"café", U"中文", U"½", U"x"}));
  EXPECT_EQ(pieces(U"'\u017F"), (P{U"'\u017F"}));          // long s folds onto 's'
  EXPECT_EQ(pieces(U"!\u0345!"), (P{U"!", U"!"}));          // U+0345 belongs to no piece
  EXPECT_EQ(pieces(U"a\u0301b 😀🔥"), (P{U"a", U"\u0301", U"b", U"😀🔥"}));
  EXPECT_TRUE(pieces(U"   ").empty());
}

}  // namespace
}  // namespace evaclip::text
