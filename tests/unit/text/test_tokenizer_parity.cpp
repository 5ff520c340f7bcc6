// Parity of evaclip's CLIP tokenizer with open_clip's on the fixture corpus (tools/make_tokenizer_fixtures.py).
#include <gtest/gtest.h>

#include <sstream>

#include "unit/text/text_fixtures.hpp"

namespace evaclip::test {
namespace {

std::string join(const std::vector<std::int32_t>& v) {
  std::ostringstream os;
  for (std::size_t i = 0; i < v.size(); ++i) os << (i ? " " : "") << v[i];
  return os.str();
}

TEST(TokenizerParity, EveryFixtureStringMatchesOpenClip) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  const auto cases = tokenizer_cases();
  ASSERT_GE(cases.size(), 2000u) << "the fixture should hold at least 2000 strings";
  int mismatches = 0;
  for (const auto& c : cases) {
    std::vector<std::int32_t> got = tok->tokenize(c.bytes, 77);
    while (!got.empty() && got.back() == 0) got.pop_back();  // the fixture leaves the padding out
    if (got != c.ids && ++mismatches <= 20)
      ADD_FAILURE() << "input: " << c.escaped << "\n  open_clip: " << join(c.ids) << "\n  evaclip:   " << join(got);
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases.size() << " fixture strings";
}

}  // namespace
}  // namespace evaclip::test
