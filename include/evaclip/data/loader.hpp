// loader.hpp — defines Loader: endless, seeded, resumable batches of (CLIP-normalised images, BPE ids)
// from a CSV/TSV table or from webdataset tar shards, decoded by worker threads.
//
// Order. Epoch e's order comes from the seed and e alone (source.hpp: a permutation of the rows;
// webdataset.hpp: a permutation of the shards, then a shuffle buffer). A batch is the next batch_size
// usable samples of one epoch in that order: unusable ones (missing file, undecodable image, no caption,
// broken tar) are skipped and counted, and the usable ones left over at an epoch's end are dropped
// (drop_last). Sample i of epoch e is augmented with an Rng seeded by (seed, e, i). So batches depend on
// neither the worker count nor thread timing, and LoaderPosition (epoch, sample) — the next sample to
// read — is all a checkpoint needs to resume exactly.
//
// Threads. One feeder reads the source in order (CSV: names only; tars: bytes), `workers` threads
// decode, transform and tokenise, and next() takes their results back in order. The feeder runs at most
// prefetch * batch_size samples ahead of what next() has taken; the destructor stops and joins all
// threads wherever they are; an exception in any of them is rethrown by next() at that sample.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/core/random.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/data/brace_expand.hpp"
#include "evaclip/data/sample_order.hpp"
#include "evaclip/data/source.hpp"
#include "evaclip/data/webdataset.hpp"
#include "evaclip/image/decode.hpp"
#include "evaclip/image/transform.hpp"
#include "evaclip/text/tokenizer.hpp"

namespace evaclip::data {

struct LoaderOptions {
  std::int64_t batch_size = 32;
  int workers = 2;   // decode/augment/tokenise threads
  int prefetch = 2;  // batches prepared ahead (bounded)
  std::uint64_t seed = 0;
  int image_size = 224;
  int context_length = 77;
  bool augment = true;  // train transform (RandomResizedCrop scale (0.9, 1)) vs eval transform
  bool shuffle = true;
  std::string csv_img_key = "filepath", csv_caption_key = "title";
  char csv_separator = '\t';
  std::int64_t shuffle_buffer = 1000;  // webdataset: samples held for shuffling (open_clip uses 1000-5000)
};

struct Batch {
  Tensor images;  // (B, 3, S, S) f32, CLIP-normalised
  Tensor ids;     // (B, context_length) i64, CLIP BPE
  std::int64_t epoch = 0;
};

// A .csv/.tsv name is a table; anything else is a webdataset shard list.
inline bool is_csv_path(const std::string& s) {
  const auto ends = [&](const char* ext) { return s.size() >= 4 && s.compare(s.size() - 4, 4, ext) == 0; };
  return ends(".csv") || ends(".tsv") || ends(".CSV") || ends(".TSV");
}

class Loader {
 public:
  // train_data: a .csv/.tsv table (image path and caption columns; relative paths resolve against its
  // folder), or webdataset tar shards as brace patterns joined by "::" ("dir/{00000..00009}.tar").
  Loader(const std::string& train_data, const text::Tokenizer& tok, LoaderOptions opt, LoaderPosition start = {})
      : tok_(tok), opt_(std::move(opt)), data_(train_data), pos_(start) {
    EVACLIP_CHECK(opt_.batch_size >= 1 && opt_.workers >= 1 && opt_.prefetch >= 1 && opt_.image_size >= 1 &&
                      opt_.context_length >= 2 && opt_.shuffle_buffer >= 1,
                  "loader: invalid options (batch_size ", opt_.batch_size, ", workers ", opt_.workers, ", prefetch ",
                  opt_.prefetch, ", image_size ", opt_.image_size, ", context_length ", opt_.context_length,
                  ", shuffle_buffer ", opt_.shuffle_buffer, ")");
    std::shared_ptr<const std::vector<CsvEntry>> entries;
    std::vector<ShardIndex> shards;
    if (is_csv_path(train_data)) {
      entries = std::make_shared<const std::vector<CsvEntry>>(
          read_csv_entries(train_data, opt_.csv_separator, opt_.csv_img_key, opt_.csv_caption_key));
      usable_ = length_ = std::int64_t(entries->size());
    } else {
      for (const std::string& path : expand_shard_list(train_data)) {
        shards.push_back(index_shard(path));
        usable_ += shards.back().complete;
        length_ += shards.back().groups;
      }
      EVACLIP_CHECK(usable_ > 0, "webdataset ", train_data, ": no sample with an image and a caption in ",
                    shards.size(), " shard(s)");
    }
    EVACLIP_CHECK(usable_ >= opt_.batch_size, "loader ", train_data, ": ", usable_,
                  " usable samples per epoch, fewer than the batch size ", opt_.batch_size);
    EVACLIP_CHECK(start.epoch >= 0 && start.sample >= 0 && start.sample <= length_, "loader ", train_data,
                  ": start position (epoch ", start.epoch, ", sample ", start.sample, ") outside the ", length_,
                  " samples of an epoch");
    if (entries) {
      source_ = std::make_unique<CsvSource>(std::move(entries), opt_.shuffle, opt_.seed, start);
    } else {
      source_ =
          std::make_unique<WebdatasetSource>(std::move(shards), opt_.shuffle, opt_.shuffle_buffer, opt_.seed, start);
    }
    epoch_from_start_ = start.sample == 0;
    feeder_ = std::thread([this] { feed(); });
    for (int i = 0; i < opt_.workers; ++i) workers_.emplace_back([this] { work(); });
  }

  ~Loader() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    fed_cv_.notify_all();
    task_cv_.notify_all();
    feeder_.join();
    for (std::thread& t : workers_) t.join();
  }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch; endless (after an epoch's last full batch comes the next epoch's first).
  Batch next() {
    if (failed_) std::rethrow_exception(failed_);
    const std::int64_t b = opt_.batch_size, s = opt_.image_size, c = opt_.context_length;
    std::vector<Result> got;
    std::int64_t epoch = pos_.epoch;
    while (std::int64_t(got.size()) < b) {
      Result r = take();
      if (r.epoch != epoch) {  // the epoch ended: its partial batch is dropped
        if (epoch_from_start_ && epoch_batches_ == 0) {
          try {
            fail("loader ", data_, ": epoch ", epoch, " had ", epoch_good_, " usable samples of ", length_,
                 ", fewer than the batch size ", b, " (last skipped: ", last_skip_, ")");
          } catch (...) {
            failed_ = std::current_exception();
            throw;
          }
        }
        got.clear();
        epoch = r.epoch;
        epoch_from_start_ = true;
        epoch_batches_ = epoch_good_ = 0;
      }
      pos_ = {r.epoch, r.index + 1};
      if (r.ok) {
        ++epoch_good_;
        got.push_back(std::move(r));
      } else {
        ++skipped_;
        last_skip_ = std::move(r.why);
      }
    }
    ++epoch_batches_;
    if (pos_.sample == length_) pos_ = {pos_.epoch + 1, 0};
    Batch out{Tensor::empty({b, 3, s, s}, DType::f32), Tensor::empty({b, c}, DType::i64), epoch};
    float* im = out.images.data<float>();
    std::int64_t* ids = out.ids.data<std::int64_t>();
    for (std::int64_t i = 0; i < b; ++i) {
      const Result& r = got[std::size_t(i)];
      std::copy_n(r.image.data<float>(), 3 * s * s, im + i * 3 * s * s);
      std::copy(r.ids.begin(), r.ids.end(), ids + i * c);
    }
    return out;
  }

  // Where the batch after the last one returned starts (the start position before any next()).
  LoaderPosition position() const { return pos_; }
  // Usable samples per epoch: rows of a table; samples with an image and a caption in the tar headers.
  std::int64_t samples_per_epoch() const { return usable_; }
  // Positions per epoch: rows of a table; every sample (complete or not) of the tars.
  std::int64_t epoch_length() const { return length_; }
  // Samples skipped so far as unusable (never fatal), and why the latest one was (for logs).
  std::int64_t skipped() const { return skipped_; }
  const std::string& last_skip_reason() const { return last_skip_; }
  // Samples read or being prepared beyond those next() has taken; at most prefetch * batch_size.
  std::int64_t samples_ahead() const {
    std::lock_guard lock(mu_);
    return fed_ - taken_;
  }

 private:
  struct Task {
    std::int64_t seq = 0;
    RawSample raw;
    std::exception_ptr error;
  };
  struct Result {
    std::int64_t epoch = 0, index = 0;
    bool ok = false;
    std::string why;                // !ok: the reason
    Tensor image;                   // (3, S, S) f32
    std::vector<std::int32_t> ids;  // (context_length)
    std::exception_ptr error;
  };

  void feed() {
    const std::int64_t window = std::int64_t(opt_.prefetch) * opt_.batch_size;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        fed_cv_.wait(lock, [&] { return stop_ || fed_ - taken_ < window; });
        if (stop_) return;
      }
      Task t;
      try {
        t.raw = source_->next();
      } catch (...) {
        t.error = std::current_exception();
      }
      const bool failed = t.error != nullptr;
      {
        std::lock_guard lock(mu_);
        t.seq = fed_++;
        tasks_.push_back(std::move(t));
      }
      task_cv_.notify_one();
      if (failed) return;  // next() rethrows when it reaches this sample
    }
  }

  void work() {
    for (;;) {
      Task t;
      {
        std::unique_lock lock(mu_);
        task_cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (stop_) return;
        t = std::move(tasks_.front());
        tasks_.pop_front();
      }
      Result r;
      r.epoch = t.raw.epoch;
      r.index = t.raw.index;
      r.error = t.error;
      if (!r.error) {
        try {
          prepare(t.raw, r);
        } catch (...) {
          r.error = std::current_exception();
        }
      }
      {
        std::lock_guard lock(mu_);
        done_.emplace(t.seq, std::move(r));
      }
      done_cv_.notify_all();
    }
  }

  // Decode, transform, tokenise; r.ok stays false for a sample that cannot be used.
  void prepare(const RawSample& raw, Result& r) const {
    if (!raw.ok) {
      r.why = raw.name + ": " + raw.error;
      return;
    }
    image::LoadResult im;
    if (raw.path.empty()) {
      try {
        im.image = image::decode_image(raw.image, raw.name);
      } catch (const image::ImageError& e) {
        im.error = e.what();
      }
    } else {
      im = image::try_load_image(raw.path);
    }
    if (!im) {
      r.why = im.error;
      return;
    }
    if (opt_.augment) {
      Rng rng(derive_seed(opt_.seed, raw.epoch, SeedPurpose::augment, raw.index));
      r.image = image::train_transform(*im.image, opt_.image_size, rng);
    } else {
      r.image = image::eval_transform(*im.image, opt_.image_size);
    }
    r.ids = tok_.tokenize(raw.caption, opt_.context_length);
    r.ok = true;
  }

  // The next result in stream order (waits for it); rethrows a worker's or the feeder's exception.
  Result take() {
    Result r;
    {
      std::unique_lock lock(mu_);
      done_cv_.wait(lock, [&] { return done_.contains(taken_); });
      auto node = done_.extract(taken_++);
      r = std::move(node.mapped());
    }
    fed_cv_.notify_one();
    if (r.error) {
      failed_ = r.error;
      std::rethrow_exception(r.error);
    }
    return r;
  }

  const text::Tokenizer& tok_;
  LoaderOptions opt_;
  std::string data_;
  std::unique_ptr<SampleSource> source_;
  std::int64_t usable_ = 0, length_ = 0;

  // Consumer side (next() only).
  LoaderPosition pos_;
  std::int64_t skipped_ = 0, epoch_batches_ = 0, epoch_good_ = 0;
  bool epoch_from_start_ = true;
  std::string last_skip_;
  std::exception_ptr failed_;  // once next() has thrown, it throws the same again

  // Shared between the threads, under mu_.
  mutable std::mutex mu_;
  std::condition_variable fed_cv_, task_cv_, done_cv_;
  std::deque<Task> tasks_;               // read, waiting for a worker (oldest first)
  std::map<std::int64_t, Result> done_;  // prepared, waiting for next() (by sequence number)
  std::int64_t fed_ = 0, taken_ = 0;     // samples handed to the workers / taken by next()
  bool stop_ = false;
  std::thread feeder_;
  std::vector<std::thread> workers_;
};

}  // namespace evaclip::data
