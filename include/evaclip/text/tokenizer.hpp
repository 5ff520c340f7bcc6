// tokenizer.hpp — defines Tokenizer: open_clip's CLIP tokenizer (clean, pre-tokenise, BPE with a cache,
// <start_of_text> ... <end_of_text>, truncation and zero padding to the context length).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/text/bpe.hpp"
#include "evaclip/text/clean.hpp"
#include "evaclip/text/pretokenize.hpp"
#include "evaclip/text/utf8.hpp"

namespace evaclip::text {

inline constexpr const char* kVocabFileName = "bpe_simple_vocab_16e6.txt.gz";
inline constexpr int kDefaultContextLength = 77;

// Where tools/fetch_assets.py puts the vocabulary: $EVACLIP_CACHE, else ~/.cache/evaclip.
inline std::string default_vocab_path() {
  if (const char* dir = std::getenv("EVACLIP_CACHE"); dir != nullptr && *dir != '\0')
    return (std::filesystem::path(dir) / kVocabFileName).string();
  const char* home = std::getenv("HOME");
  return (std::filesystem::path(home != nullptr ? home : ".") / ".cache" / "evaclip" / kVocabFileName).string();
}

class Tokenizer {
 public:
  static constexpr std::int32_t kStartOfText = Bpe::kStartOfText;  // 49406
  static constexpr std::int32_t kEndOfText = Bpe::kEndOfText;      // 49407
  static constexpr std::int32_t kVocabSize = Bpe::kVocabSize;      // 49408

  // vocab_path "" = default_vocab_path(). A missing or corrupt file is an Error naming it.
  explicit Tokenizer(const std::string& vocab_path = "") : bpe_(resolve(vocab_path)) {}

  // The ids of one caption (UTF-8; invalid bytes read as U+FFFD), without <start_of_text>/<end_of_text>.
  std::vector<std::int32_t> encode(std::string_view utf8) const {
    std::vector<std::int32_t> ids;
    std::string piece;
    pretokenize(clean_text(utf8), [&](std::u32string_view p) {
      piece.clear();
      for (char32_t c : p) append_utf8(piece, c);
      encode_piece(piece, ids);
    });
    return ids;
  }

  // [<start_of_text>, ids..., <end_of_text>] cut to context_length (the last id then <end_of_text>),
  // padded with 0 to exactly context_length ids.
  std::vector<std::int32_t> tokenize(std::string_view utf8, int context_length = kDefaultContextLength) const {
    EVACLIP_CHECK(context_length >= 2, "tokenizer: context length ", context_length, " must be at least 2");
    std::vector<std::int32_t> ids = encode(utf8);
    std::vector<std::int32_t> out(static_cast<std::size_t>(context_length), 0);
    out[0] = kStartOfText;
    const std::size_t n = std::min(ids.size(), out.size() - 2);
    std::copy(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), out.begin() + 1);
    out[n + 1] = kEndOfText;
    return out;
  }

  // A batch as the models take it: i64 (N, context_length).
  Tensor tokenize(const std::vector<std::string>& texts, int context_length = kDefaultContextLength) const {
    std::vector<std::int64_t> all;
    all.reserve(texts.size() * static_cast<std::size_t>(std::max(context_length, 0)));
    for (const std::string& t : texts) {
      const auto row = tokenize(std::string_view(t), context_length);
      all.insert(all.end(), row.begin(), row.end());
    }
    return Tensor::from({static_cast<std::int64_t>(texts.size()), context_length}, DType::i64, all);
  }

  const Bpe& bpe() const { return bpe_; }

 private:
  static std::string resolve(const std::string& path) { return path.empty() ? default_vocab_path() : path; }

  // A word's ids, through the cache (the special tokens map to their own ids, as in the reference).
  void encode_piece(const std::string& piece, std::vector<std::int32_t>& out) const {
    if (piece == "<start_of_text>" || piece == "<end_of_text>") {
      out.push_back(piece[1] == 's' ? kStartOfText : kEndOfText);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (const auto it = cache_.find(piece); it != cache_.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<std::int32_t> ids;
    bpe_.encode_word(piece, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard lock(mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();  // bounded memory on endless streams
    cache_.emplace(piece, std::move(ids));
  }

  static constexpr std::size_t kMaxCacheEntries = 1 << 20;
  Bpe bpe_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
};

}  // namespace evaclip::text
