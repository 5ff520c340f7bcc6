// text_fixtures.hpp — defines the text tests' helpers: the shared Tokenizer (failing, not skipping, when
// the vocabulary is absent) and the reader of tests/data/tokenizer_fixtures.tsv.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/text/tokenizer.hpp"

namespace evaclip::test {

// The tokenizer over the cached vocabulary; nullptr (after an ADD_FAILURE naming the fix) when absent.
inline const text::Tokenizer* shared_tokenizer() {
  static std::string error;
  static const std::unique_ptr<text::Tokenizer> tok = []() -> std::unique_ptr<text::Tokenizer> {
    try {
      return std::make_unique<text::Tokenizer>();
    } catch (const Error& e) {
      error = e.what();
      return nullptr;
    }
  }();
  if (!tok) ADD_FAILURE() << error << " (the tokenizer tests need the vocabulary: python3 tools/fetch_assets.py)";
  return tok.get();
}

// One fixture line: input bytes and the reference ids (<start_of_text> ... <end_of_text>, no padding).
struct TokenizerCase {
  std::string escaped, bytes;
  std::vector<std::int32_t> ids;
};

// Undoes the fixture's escapes: \\ \t \n \r \xHH.
inline std::string unescape_fixture(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    if (c == 'x' && i + 2 < s.size() + 1) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c);
    }
  }
  return out;
}

inline std::filesystem::path tokenizer_fixture_path() { return data_path("tokenizer_fixtures.tsv"); }

inline std::vector<TokenizerCase> tokenizer_cases() {
  std::ifstream f(tokenizer_fixture_path(), std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing " << tokenizer_fixture_path();
  std::vector<TokenizerCase> cases;
  for (std::string line; std::getline(f, line);) {
    if (!line.empty() && line[0] == '#') continue;
    const std::size_t tab = line.rfind('\t');
    if (tab == std::string::npos) continue;
    TokenizerCase c{line.substr(0, tab), unescape_fixture(line.substr(0, tab)), {}};
    std::istringstream is(line.substr(tab + 1));
    for (std::int32_t id; is >> id;) c.ids.push_back(id);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace evaclip::test
