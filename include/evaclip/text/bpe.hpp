// bpe.hpp — defines Bpe: the CLIP byte-level BPE vocabulary (read from bpe_simple_vocab_16e6.txt.gz)
// and the merge loop that turns one pre-tokenised word into token ids.
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/text/utf8.hpp"

namespace evaclip::text {

class Bpe {
 public:
  static constexpr int kNumMerges = 49152 - 256 - 2;  // lines 1..48894 of the file (line 0 is a header)
  static constexpr std::int32_t kVocabSize = 512 + kNumMerges + 2;  // 49408
  static constexpr std::int32_t kStartOfText = kVocabSize - 2;      // 49406
  static constexpr std::int32_t kEndOfText = kVocabSize - 1;        // 49407

  // Reads the gzip'd merges file; any failure is an Error naming the file and saying how to get it.
  explicit Bpe(const std::string& path) {
    const std::string text = read_gzip(path);
    // Ids 0..255: GPT-2's byte -> printable character table; 256..511: the same with "</w>"; then one id
    // per merge in file order. A later entry with the same string wins, as in a Python dict.
    std::vector<std::string> vocab;
    vocab.reserve(kVocabSize);
    for (int b = 0; b < 256; ++b) vocab.push_back(byte_symbol(byte_order()[b]));
    for (int b = 0; b < 256; ++b) vocab.push_back(vocab[b] + "</w>");
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(kNumMerges);
    std::size_t pos = text.find('\n');
    for (int line = 1; line <= kNumMerges; ++line) {
      if (pos == std::string::npos) corrupt(path, "it has fewer than 48895 lines");
      const std::size_t end = std::min(text.find('\n', pos + 1), text.size());
      const std::string_view row(text.data() + pos + 1, end - pos - 1);
      const std::size_t sp = row.find(' ');
      if (sp == std::string_view::npos || sp == 0 || sp + 1 >= row.size() || row.find(' ', sp + 1) != row.npos)
        corrupt(path, "line " + std::to_string(line + 1) + " is not a merge of two symbols");
      merges.emplace_back(row.substr(0, sp), row.substr(sp + 1));
      vocab.push_back(merges.back().first + merges.back().second);
      pos = end < text.size() ? end : std::string::npos;
    }
    for (std::int32_t id = 0; id < static_cast<std::int32_t>(vocab.size()); ++id) ids_[vocab[id]] = id;
    for (int r = 0; r < kNumMerges; ++r) {
      const auto a = ids_.find(merges[r].first), b = ids_.find(merges[r].second);
      if (a == ids_.end() || b == ids_.end())
        corrupt(path, "line " + std::to_string(r + 2) + " merges a symbol that is not in the vocabulary");
      ranks_[key(a->second, b->second)] = {r, a->second, b->second, ids_.at(merges[r].first + merges[r].second)};
    }
    for (int b = 0; b < 256; ++b) byte_id_[byte_order()[b]] = b;
  }

  // Appends the ids of one word (its UTF-8 bytes): bytes -> symbols, "</w>" on the last one, then
  // repeatedly merge every occurrence (left to right) of the adjacent pair with the lowest rank.
  void encode_word(std::string_view bytes, std::vector<std::int32_t>& out) const {
    if (bytes.empty()) return;
    std::vector<std::int32_t> word(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) word[i] = byte_id_[static_cast<unsigned char>(bytes[i])];
    word.back() += 256;
    while (word.size() > 1) {
      Merge best{kNumMerges, -1, -1, -1};
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = ranks_.find(key(word[i], word[i + 1]));
        if (it != ranks_.end() && it->second.rank < best.rank) best = it->second;
      }
      if (best.merged < 0) break;
      const std::int32_t first = best.first, second = best.second;
      std::size_t w = 0;
      for (std::size_t i = 0; i < word.size(); ++w) {
        if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
          word[w] = best.merged;
          i += 2;
        } else {
          word[w] = word[i++];
        }
      }
      word.resize(w);
    }
    out.insert(out.end(), word.begin(), word.end());
  }

  // The id of a vocabulary string (UTF-8 of its byte-level characters), or -1.
  std::int32_t id(const std::string& symbol) const {
    const auto it = ids_.find(symbol);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  struct Merge {
    int rank;
    std::int32_t first, second, merged;  // symbol ids: first + second -> merged
  };
  static std::uint64_t key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }

  // GPT-2's bytes_to_unicode order: printable Latin-1 bytes keep their code point; the other 68 bytes
  // get U+0100.. in byte order. byte_order()[i] = the byte whose symbol has id i.
  static const std::array<unsigned char, 256>& byte_order() {
    static const std::array<unsigned char, 256> order = [] {
      std::array<unsigned char, 256> o{};
      int n = 0;
      for (int b = 0; b < 256; ++b)
        if (printable(b)) o[n++] = static_cast<unsigned char>(b);
      for (int b = 0; b < 256; ++b)
        if (!printable(b)) o[n++] = static_cast<unsigned char>(b);
      return o;
    }();
    return order;
  }
  static bool printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }
  static std::string byte_symbol(unsigned char b) {
    static const std::array<char32_t, 256> cp = [] {
      std::array<char32_t, 256> c{};
      int extra = 0;
      for (int x = 0; x < 256; ++x) c[x] = printable(x) ? static_cast<char32_t>(x) : static_cast<char32_t>(256 + extra++);
      return c;
    }();
    std::string s;
    append_utf8(s, cp[b]);
    return s;
  }

  [[noreturn]] static void corrupt(const std::string& path, const std::string& why) {
    fail("tokenizer: vocabulary ", path, " is corrupt (", why, "); run tools/fetch_assets.py to fetch it again");
  }

  static std::string read_gzip(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr)
      fail("tokenizer: cannot open vocabulary ", path, "; run tools/fetch_assets.py to download it");
    if (gzdirect(f) != 0) {
      gzclose(f);
      corrupt(path, "not a gzip file");
    }
    std::string out;
    std::array<char, 1 << 16> buf;
    int n = 0;
    while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0) out.append(buf.data(), n);
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    const std::string why = n < 0 || (err != Z_OK && err != Z_STREAM_END) ? msg : "";
    gzclose(f);
    if (!why.empty()) corrupt(path, "gzip: " + why);
    return out;
  }

  std::unordered_map<std::string, std::int32_t> ids_;
  std::unordered_map<std::uint64_t, Merge> ranks_;
  std::array<std::int32_t, 256> byte_id_{};
};

}  // namespace evaclip::text
