// Tokenizer API: special ids, truncation that keeps <end_of_text> last, zero padding, the batch tensor,
// the vocabulary lookup and its errors. (Parity with open_clip: test_tokenizer_parity.cpp.)
#include <gtest/gtest.h>

#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/test_util.hpp"
#include "unit/text/text_fixtures.hpp"

namespace evaclip::test {
namespace {

TEST(Tokenizer, SpecialIdsAndPadding) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(text::Tokenizer::kStartOfText, 49406);
  EXPECT_EQ(text::Tokenizer::kEndOfText, 49407);
  EXPECT_EQ(tok->bpe().id("<start_of_text>"), -1);  // not a BPE symbol: the special ids come after the merges
  EXPECT_EQ(tok->encode("a photo of a cat."), (std::vector<std::int32_t>{320, 1125, 539, 320, 2368, 269}));
  const auto row = tok->tokenize("a photo of a cat.", 10);
  EXPECT_EQ(row, (std::vector<std::int32_t>{49406, 320, 1125, 539, 320, 2368, 269, 49407, 0, 0}));
  EXPECT_EQ(tok->tokenize("", 4), (std::vector<std::int32_t>{49406, 49407, 0, 0}));
}

TEST(Tokenizer, TruncationKeepsEndOfTextLast) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  const auto ids = tok->encode("a photo of a cat.");
  for (int ctx = 2; ctx <= 9; ++ctx) {
    const auto row = tok->tokenize("a photo of a cat.", ctx);
    ASSERT_EQ(row.size(), static_cast<std::size_t>(ctx));
    EXPECT_EQ(row.front(), 49406);
    const std::size_t n = std::min<std::size_t>(ids.size(), ctx - 2);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(row[i + 1], ids[i]) << "ctx " << ctx;
    EXPECT_EQ(row[n + 1], 49407) << "ctx " << ctx;
  }
  EXPECT_THROW_MSG(tok->tokenize("x", 1), "context length 1");
}

TEST(Tokenizer, BatchTensor) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  const Tensor t = tok->tokenize(std::vector<std::string>{"a cat", "", "a dog"}, 77);
  EXPECT_EQ(t.dtype(), DType::i64);
  ASSERT_EQ(t.shape(), (Shape{3, 77}));
  const std::vector<std::int32_t> row = tok->tokenize("a dog", 77);
  for (int j = 0; j < 77; ++j) EXPECT_EQ(t.data<std::int64_t>()[2 * 77 + j], row[j]);
}

TEST(Tokenizer, VocabularyErrorsNameTheFileAndTheFix) {
  const auto dir = std::filesystem::temp_directory_path() / "evaclip_tokenizer_test";
  std::filesystem::create_directories(dir);
  EXPECT_THROW_MSG(text::Tokenizer((dir / "absent.txt.gz").string()), "run tools/fetch_assets.py");
  EXPECT_THROW_MSG(text::Tokenizer((dir / "absent.txt.gz").string()), "absent.txt.gz");
  std::ofstream(dir / "plain.txt.gz") << "not gzip\n";
  EXPECT_THROW_MSG(text::Tokenizer((dir / "plain.txt.gz").string()), "not a gzip file");
  gzFile f = gzopen((dir / "short.txt.gz").string().c_str(), "wb");
  gzputs(f, "header\nh e");
  gzclose(f);
  EXPECT_THROW_MSG(text::Tokenizer((dir / "short.txt.gz").string()), "fewer than 48895 lines");
  std::filesystem::remove_all(dir);
}

TEST(Tokenizer, DefaultPathFollowsEvaclipCache) {
  const char* old = std::getenv("EVACLIP_CACHE");
  const std::string saved = old ? old : "";
  setenv("EVACLIP_CACHE", "/some/cache", 1);
  EXPECT_EQ(text::default_vocab_path(), "/some/cache/bpe_simple_vocab_16e6.txt.gz");
  if (old) setenv("EVACLIP_CACHE", saved.c_str(), 1); else unsetenv("EVACLIP_CACHE");
}

}  // namespace
}  // namespace evaclip::test
