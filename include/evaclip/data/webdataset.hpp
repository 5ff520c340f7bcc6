// webdataset.hpp — defines TarShardReader (a tar shard as webdataset groups it, read through libarchive),
// index_shard (its sample count from the headers alone) and WebdatasetSource (the loader's tar stream).
//
// webdataset's grouping: a member "dir/key.ext" belongs to sample "dir/key", where key ends at the first
// '.' of the file name and the extension (lower-cased) is the rest; consecutive members with the same key
// form one sample; names without such a key are ignored. A usable sample has a caption (.txt) and an
// image, taken as open_clip's wds.rename(image="jpg;png;jpeg;webp") takes it: the first of those present.
// Needs libarchive (Debian libarchive-dev), linked by the evaclip CMake target.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/data/sample_order.hpp"
#include "evaclip/data/source.hpp"

namespace evaclip::data {

inline constexpr const char* kImageExtensions[] = {"jpg", "png", "jpeg", "webp"};

// The members of one sample: extension -> bytes (data only where asked for).
struct TarGroup {
  std::string key;
  std::map<std::string, std::vector<std::uint8_t>> members;
  std::string error;  // non-empty: a member could not be read

  // The image member's extension (the first of kImageExtensions present), or nullptr.
  const char* image_ext() const {
    for (const char* ext : kImageExtensions)
      if (members.contains(ext)) return ext;
    return nullptr;
  }
  bool complete() const { return error.empty() && image_ext() != nullptr && members.contains("txt"); }
};

class TarShardReader {
 public:
  explicit TarShardReader(const std::string& path) : path_(path), a_(archive_read_new()) {
    EVACLIP_CHECK(a_ != nullptr, "tar ", path, ": cannot allocate a libarchive reader");
    archive_read_support_format_tar(a_);
    archive_read_support_filter_all(a_);  // .tar.gz / .tar.xz / ... shards too
    if (archive_read_open_filename(a_, path.c_str(), 1 << 16) != ARCHIVE_OK) broken_ = error();
  }
  ~TarShardReader() { archive_read_free(a_); }
  TarShardReader(const TarShardReader&) = delete;
  TarShardReader& operator=(const TarShardReader&) = delete;

  // The next sample, with the bytes of its .txt and image members when with_data. false at the end of the
  // shard or once it has failed (truncated, not a tar): broken() then says why.
  bool next_group(TarGroup& g, bool with_data) {
    g = TarGroup{};
    if (!pending_ && !advance()) return false;
    g.key = key_;
    do {
      pending_ = false;
      const bool wanted =
          ext_ == "txt" || std::ranges::any_of(kImageExtensions, [&](const char* e) { return ext_ == e; });
      if (!g.members.contains(ext_)) {
        std::vector<std::uint8_t>& bytes = g.members[ext_];
        if (with_data && wanted && !read_data(bytes)) {
          g.error = broken_;
          return true;
        }
      }
    } while (advance() && key_ == g.key);
    return true;
  }

  const std::string& broken() const { return broken_; }

 private:
  std::string error() const {
    const char* e = archive_error_string(a_);
    return "tar " + path_ + ": " + (e != nullptr ? e : "unreadable");
  }

  // Reads the next member header that names a sample member into key_/ext_.
  bool advance() {
    if (!broken_.empty() || ended_) return false;
    for (;;) {
      archive_entry* entry = nullptr;
      const int r = archive_read_next_header(a_, &entry);
      if (r == ARCHIVE_EOF) {
        ended_ = true;
        return false;
      }
      if (r < ARCHIVE_WARN) {
        broken_ = error();
        return false;
      }
      if (archive_entry_filetype(entry) != AE_IFREG) continue;
      const std::string name = archive_entry_pathname(entry) != nullptr ? archive_entry_pathname(entry) : "";
      const std::size_t slash = name.rfind('/'), base = slash == std::string::npos ? 0 : slash + 1;
      const std::size_t dot = name.find('.', base);
      if (dot == std::string::npos || dot == base) continue;
      key_ = name.substr(0, dot);
      ext_ = name.substr(dot + 1);
      std::ranges::transform(ext_, ext_.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      pending_ = true;
      return true;
    }
  }

  bool read_data(std::vector<std::uint8_t>& out) {
    std::uint8_t buf[1 << 16];
    for (;;) {
      const la_ssize_t n = archive_read_data(a_, buf, sizeof buf);
      if (n == 0) return true;
      if (n < 0) {
        broken_ = error();
        return false;
      }
      out.insert(out.end(), buf, buf + n);
    }
  }

  std::string path_;
  archive* a_;
  std::string broken_;    // empty while the shard reads fine
  bool ended_ = false;    // the end-of-archive marker was read
  bool pending_ = false;  // key_/ext_ describe a member whose data has not been consumed
  std::string key_, ext_;
};

struct ShardIndex {
  std::string path;
  std::int64_t groups = 0;    // samples, usable or not: the stream positions this shard fills
  std::int64_t complete = 0;  // samples with a caption and an image
};

// Counts a shard's samples from its headers (data skipped). A shard that breaks off counts what came
// before; a missing or unopenable file is an error.
inline ShardIndex index_shard(const std::string& path) {
  EVACLIP_CHECK(std::filesystem::is_regular_file(path), "webdataset: shard ", path, " not found");
  TarShardReader reader(path);
  ShardIndex ix{path};
  TarGroup g;
  while (reader.next_group(g, false)) {
    ++ix.groups;
    if (g.complete()) ++ix.complete;
  }
  return ix;
}

// Epoch e reads the shards in epoch_permutation(shards, shuffle, derive_seed(seed, e, shard_order)), the
// samples of each in tar order, and passes that stream through a ShuffleBuffer of `buffer` samples seeded by
// derive_seed(seed, e, shuffle_buffer) (capacity 1 without shuffle). Position i of the epoch is the i-th
// sample out of the buffer. Resuming replays the buffer's indices to the position, then reads the stream
// again from the oldest sample still held, keeping the bytes of the held ones only.
class WebdatasetSource : public SampleSource {
 public:
  WebdatasetSource(std::vector<ShardIndex> shards, bool shuffle, std::int64_t buffer, std::uint64_t seed,
                   LoaderPosition start)
      : shards_(std::move(shards)), shuffle_(shuffle), buffer_(shuffle ? buffer : 1), seed_(seed) {
    for (const ShardIndex& s : shards_) length_ += s.groups;
    start_epoch(start.epoch);
    for (; index_ < start.sample; ++index_) order_->next();
    std::int64_t oldest = order_->read();
    for (std::int64_t h : order_->held()) oldest = std::min(oldest, h);
    seek(oldest);
    fill(order_->read());
  }

  RawSample next() override {
    if (index_ == length_) start_epoch(epoch_ + 1);
    fill(order_->read_after_next());
    const auto it = held_.find(order_->next());
    EVACLIP_CHECK(it != held_.end(), "webdataset: sample ", index_, " of epoch ", epoch_, " was not read");
    RawSample r = std::move(it->second);
    held_.erase(it);
    r.epoch = epoch_;
    r.index = index_++;
    return r;
  }

  std::int64_t epoch_length() const override { return length_; }

 private:
  void start_epoch(std::int64_t epoch) {
    epoch_ = epoch;
    index_ = 0;
    shard_order_ =
        epoch_permutation(std::int64_t(shards_.size()), shuffle_, derive_seed(seed_, epoch, SeedPurpose::shard_order));
    order_.emplace(length_, buffer_, derive_seed(seed_, epoch, SeedPurpose::shuffle_buffer));
    held_.clear();
    seek(0);
  }

  // Positions the stream at sample t of the epoch's shard sequence.
  void seek(std::int64_t t) {
    reader_.reset();
    stream_ = t;
    shard_pos_ = 0;
    while (shard_pos_ < shard_order_.size() && t >= shard().groups)
      t -= shards_[std::size_t(shard_order_[shard_pos_++])].groups;
    in_shard_ = t;
    if (t > 0) {
      reader_ = std::make_unique<TarShardReader>(shard().path);
      TarGroup skip;
      for (std::int64_t i = 0; i < t; ++i) reader_->next_group(skip, false);
    }
  }

  const ShardIndex& shard() const { return shards_[std::size_t(shard_order_[shard_pos_])]; }

  // Reads stream samples up to `end` (exclusive), keeping those the buffer holds or is about to take.
  void fill(std::int64_t end) {
    while (stream_ < end) {
      while (in_shard_ == shard().groups) {
        ++shard_pos_, in_shard_ = 0;
        reader_.reset();
      }
      if (!reader_) reader_ = std::make_unique<TarShardReader>(shard().path);
      // Resuming re-reads samples that already came out before the position: skip their data.
      const bool keep = stream_ >= order_->read() || std::ranges::find(order_->held(), stream_) != order_->held().end();
      TarGroup g;
      RawSample r;
      if (!reader_->next_group(g, keep)) {
        r.ok = false;
        r.name = shard().path + " sample #" + std::to_string(in_shard_);
        r.error = reader_->broken().empty() ? "shard ended before its indexed samples" : reader_->broken();
      } else {
        r.name = shard().path + ":" + g.key;
        if (g.complete()) {
          r.image = std::move(g.members[g.image_ext()]);
          r.caption.assign(g.members["txt"].begin(), g.members["txt"].end());
        } else {
          r.ok = false;
          r.error = !g.error.empty()           ? g.error
                    : g.image_ext() == nullptr ? "no image (.jpg/.png/.jpeg/.webp)"
                                               : "no caption (.txt)";
        }
      }
      if (keep) held_.emplace(stream_, std::move(r));
      ++stream_, ++in_shard_;
    }
  }

  std::vector<ShardIndex> shards_;
  bool shuffle_;
  std::int64_t buffer_;
  std::uint64_t seed_;
  std::int64_t length_ = 0, epoch_ = 0, index_ = 0;
  std::vector<std::int64_t> shard_order_;
  std::optional<ShuffleBuffer> order_;
  std::unordered_map<std::int64_t, RawSample> held_;  // stream index -> sample, for those read but not out
  std::unique_ptr<TarShardReader> reader_;
  std::int64_t stream_ = 0, in_shard_ = 0;  // the next stream sample to read, and its place in its shard
  std::size_t shard_pos_ = 0;               // which entry of shard_order_ the stream is in
};

}  // namespace evaclip::data
