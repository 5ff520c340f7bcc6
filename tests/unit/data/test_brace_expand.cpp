// Brace patterns for shard lists: expansions against bash's (tools/make_data_fixtures.py ->
// tests/data/data/braces.tsv), "::"-joined lists, and the errors for malformed patterns.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/test_util.hpp"
#include "evaclip/data/brace_expand.hpp"

namespace evaclip::test {
namespace {

TEST(BraceExpand, MatchesBash) {
  std::ifstream f(data_path("data/braces.tsv"));
  ASSERT_TRUE(f.good()) << "run tools/make_data_fixtures.py";
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    const std::size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    std::vector<std::string> expected;
    std::istringstream words(line.substr(tab + 1));
    for (std::string w; words >> w;) expected.push_back(w);
    EXPECT_EQ(data::expand_braces(line.substr(0, tab)), expected) << line.substr(0, tab);
    ++n;
  }
  EXPECT_GE(n, 15);
}

TEST(BraceExpand, EmptyListItemsAndShardLists) {
  // bash drops an empty word, so these are not in the bash fixture.
  EXPECT_EQ(data::expand_braces("{,a}"), (std::vector<std::string>{"", "a"}));
  EXPECT_EQ(data::expand_shard_list("a/{0..1}.tar::b/x.tar::c/{y,z}.tar"),
            (std::vector<std::string>{"a/0.tar", "a/1.tar", "b/x.tar", "c/y.tar", "c/z.tar"}));
}

TEST(BraceExpand, MalformedPatternsAreErrors) {
  EXPECT_THROW_MSG(data::expand_braces("d/{000..009.tar"), "brace pattern 'd/{000..009.tar': unmatched '{'");
  EXPECT_THROW_MSG(data::expand_braces("d/000..009}.tar"), "brace pattern 'd/000..009}.tar': unmatched '}'");
  EXPECT_THROW_MSG(data::expand_braces("a{b}c"), "'{b}' is neither a list {a,b} nor a range");
  EXPECT_THROW_MSG(data::expand_braces("a{}c"), "'{}' is neither a list");
  EXPECT_THROW_MSG(data::expand_braces("{1..}"), "'{1..}' is neither");
  EXPECT_THROW_MSG(data::expand_braces("{1..5..0}"), "'{1..5..0}' is neither");
  EXPECT_THROW_MSG(data::expand_braces("{a..9}"), "'{a..9}' is neither");
  EXPECT_THROW_MSG(data::expand_braces("{0..99999999999}"), "'{0..99999999999}' is neither");
  EXPECT_THROW_MSG(data::expand_braces("{0..9999}{0..9999}"), "more than 10000000 names");
  EXPECT_THROW_MSG(data::expand_shard_list("a.tar::::b.tar"),
                   "shard list 'a.tar::::b.tar': empty pattern between '::'");
}

}  // namespace
}  // namespace evaclip::test
