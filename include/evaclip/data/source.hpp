// source.hpp — defines LoaderPosition, RawSample, SampleSource (the loader's ordered stream of undecoded
// samples) and CsvSource (a CSV/TSV table of image paths and captions, one seeded permutation per epoch).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/data/csv.hpp"
#include "evaclip/data/sample_order.hpp"

namespace evaclip::data {

// A place in the endless sample stream: the next sample to read is number `sample` of epoch `epoch`'s order.
struct LoaderPosition {
  std::int64_t epoch = 0;
  std::int64_t sample = 0;
  friend bool operator==(const LoaderPosition&, const LoaderPosition&) = default;
};

// One sample before decoding. Exactly one of `path` (read by the worker) or `image` (bytes already read)
// holds the image; a sample that is already known to be unusable has ok == false and says why.
struct RawSample {
  std::int64_t epoch = 0, index = 0;  // where it sits in the stream
  std::string name;                   // for messages: the image path, or "<shard>:<key>"
  std::string path;
  std::vector<std::uint8_t> image;
  std::string caption;
  bool ok = true;
  std::string error;
};

// The samples of epoch 0, 1, 2, ... in each epoch's order, from a given position on.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual RawSample next() = 0;
  // How many positions an epoch has (usable or not).
  virtual std::int64_t epoch_length() const = 0;
};

struct CsvEntry {
  std::string path, caption;
};

// Reads the table and keeps (resolved image path, caption) per row. Relative paths resolve against the
// table's folder. The key columns must exist; a table without rows is an error.
inline std::vector<CsvEntry> read_csv_entries(const std::string& file, char separator, const std::string& img_key,
                                              const std::string& caption_key) {
  const CsvTable t = read_csv(file, separator);
  const std::size_t ic = t.column(img_key), cc = t.column(caption_key);
  EVACLIP_CHECK(!t.rows.empty(), "csv ", file, ": no rows after the header");
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  std::vector<CsvEntry> out;
  out.reserve(t.rows.size());
  for (const auto& row : t.rows) {
    const std::filesystem::path p(row[ic]);
    out.push_back({row[ic].empty() || p.is_absolute() ? row[ic] : (dir / p).string(), row[cc]});
  }
  return out;
}

// Epoch e visits the rows in epoch_permutation(rows, shuffle, derive_seed(seed, e, row_order)).
class CsvSource : public SampleSource {
 public:
  CsvSource(std::shared_ptr<const std::vector<CsvEntry>> entries, bool shuffle, std::uint64_t seed,
            LoaderPosition start)
      : entries_(std::move(entries)), shuffle_(shuffle), seed_(seed) {
    start_epoch(start.epoch);
    index_ = start.sample;
  }

  RawSample next() override {
    if (index_ == epoch_length()) {
      start_epoch(epoch_ + 1);
      index_ = 0;
    }
    const CsvEntry& e = (*entries_)[std::size_t(order_[std::size_t(index_)])];
    RawSample r;
    r.epoch = epoch_;
    r.index = index_++;
    r.name = r.path = e.path;
    r.caption = e.caption;
    if (e.path.empty() || e.caption.empty()) {
      r.ok = false;
      r.error = e.path.empty() ? "empty image path" : "empty caption";
    }
    return r;
  }

  std::int64_t epoch_length() const override { return std::int64_t(entries_->size()); }

 private:
  void start_epoch(std::int64_t epoch) {
    epoch_ = epoch;
    order_ = epoch_permutation(epoch_length(), shuffle_, derive_seed(seed_, epoch, SeedPurpose::row_order));
  }

  std::shared_ptr<const std::vector<CsvEntry>> entries_;
  bool shuffle_;
  std::uint64_t seed_;
  std::int64_t epoch_ = 0, index_ = 0;
  std::vector<std::int64_t> order_;
};

}  // namespace evaclip::data
