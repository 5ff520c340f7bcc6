// Loader: batches equal to the fixtures decoded, eval-transformed and tokenised here in the known order
// (tables and tar shards, unshuffled); skip counts and positions from the batching rule simulated here;
// the seeded order (permutations, augmentation per sample position); determinism across runs, worker
// counts and prefetch depths; exact resume; the prefetch bound; clean shutdown; errors.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "common/test_util.hpp"
#include "evaclip/data/loader.hpp"
#include "unit/data/data_fixtures.hpp"
#include "unit/text/text_fixtures.hpp"

namespace evaclip::test {
namespace {

constexpr int kSize = 16, kCtx = 20;
const std::string kShardPattern = "shard-{00000..00002}.tar";

data::LoaderOptions options(std::int64_t batch, bool shuffle, bool augment, int workers = 2) {
  data::LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.image_size = kSize;
  o.context_length = kCtx;
  o.shuffle = shuffle;
  o.augment = augment;
  o.seed = 1234;
  o.shuffle_buffer = 4;
  return o;
}

::testing::AssertionResult same_batch(const data::Batch& a, const data::Batch& b) {
  if (a.epoch != b.epoch) return ::testing::AssertionFailure() << "epoch " << a.epoch << " vs " << b.epoch;
  if (auto r = allclose(a.images, b.images, 0.0, 0.0); !r) return r << " (images)";
  if (auto r = allclose(a.ids, b.ids, 0.0, 0.0); !r) return r << " (ids)";
  return ::testing::AssertionSuccess();
}

// What the loader must yield without shuffling: batches of `batch` usable samples in file order, epoch
// after epoch, the remainder of each epoch dropped; with the skip count and position after each batch.
struct Expected {
  std::vector<std::vector<FixtureSample>> batches;
  std::vector<std::int64_t> epochs, skipped;
  std::vector<data::LoaderPosition> positions;
};

Expected simulate(const std::vector<FixtureSample>& samples, std::int64_t batch, int n_batches) {
  Expected e;
  if (std::ranges::count_if(samples, [](auto& s) { return s.usable; }) < batch) return e;
  std::vector<FixtureSample> cur;
  std::int64_t skipped = 0, n = std::int64_t(samples.size());
  for (std::int64_t epoch = 0; int(e.batches.size()) < n_batches; ++epoch) {
    cur.clear();
    for (std::int64_t i = 0; i < n && int(e.batches.size()) < n_batches; ++i) {
      if (!samples[std::size_t(i)].usable) {
        ++skipped;
        continue;
      }
      cur.push_back(samples[std::size_t(i)]);
      if (std::int64_t(cur.size()) == batch) {
        e.batches.push_back(cur);
        e.epochs.push_back(epoch);
        e.skipped.push_back(skipped);
        e.positions.push_back(i + 1 == n ? data::LoaderPosition{epoch + 1, 0} : data::LoaderPosition{epoch, i + 1});
        cur.clear();
      }
    }
  }
  return e;
}

void expect_batches(const std::string& train_data, const data::LoaderOptions& opt,
                    const std::vector<FixtureSample>& samples, int n_batches) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  const Expected e = simulate(samples, opt.batch_size, n_batches);
  ASSERT_EQ(int(e.batches.size()), n_batches) << "fixtures missing: run tools/make_data_fixtures.py";
  data::Loader loader(train_data, *tok, opt);
  for (int k = 0; k < n_batches; ++k) {
    const data::Batch b = loader.next();
    ASSERT_EQ(b.images.shape(), (Shape{opt.batch_size, 3, kSize, kSize}));
    ASSERT_EQ(b.ids.shape(), (Shape{opt.batch_size, kCtx}));
    ASSERT_EQ(b.ids.dtype(), DType::i64);
    EXPECT_EQ(b.epoch, e.epochs[std::size_t(k)]) << "batch " << k;
    std::vector<Tensor> images;
    std::vector<std::string> captions;
    for (const FixtureSample& s : e.batches[std::size_t(k)]) {
      images.push_back(reference_image(s, kSize));
      captions.push_back(s.caption);
    }
    const Tensor want_ids = tok->tokenize(captions, kCtx);
    EXPECT_TRUE(allclose(want_ids, b.ids, 0.0, 0.0)) << "batch " << k;
    for (std::int64_t i = 0; i < opt.batch_size; ++i) {
      const Tensor got = Tensor::from({3, kSize, kSize}, DType::f32,
                                      std::vector<float>(b.images.data<float>() + i * 3 * kSize * kSize,
                                                         b.images.data<float>() + (i + 1) * 3 * kSize * kSize));
      EXPECT_TRUE(allclose(images[std::size_t(i)], got, 0.0, 0.0))
          << "batch " << k << " sample " << i << " " << e.batches[std::size_t(k)][std::size_t(i)].name;
    }
    EXPECT_EQ(loader.skipped(), e.skipped[std::size_t(k)]) << "batch " << k;
    EXPECT_EQ(loader.position(), e.positions[std::size_t(k)]) << "batch " << k;
  }
}

TEST(Loader, TsvBatchesEqualIndependentDecode) {
  // 11 rows, 7 usable: two batches of 3 per epoch, the 7th usable row dropped.
  expect_batches(data_path("data/train.tsv"), options(3, false, false), table_samples("tsv"), 6);
}

TEST(Loader, CsvWithOtherKeysAndSeparator) {
  data::LoaderOptions o = options(2, false, false, 1);
  o.csv_separator = ',';
  o.csv_img_key = "image";
  o.csv_caption_key = "caption";
  expect_batches(data_path("data/train.csv"), o, table_samples("csv"), 5);
}

TEST(Loader, WebdatasetBatchesEqualIndependentDecode) {
  // 13 samples in 3 shards, 9 usable (corrupt image, no caption, no image, cut off by the truncation).
  expect_batches(data_path("data/" + kShardPattern), options(2, false, false, 3), shard_samples(kFixtureShards), 9);
  // The same shards listed with "::".
  expect_batches(data_path("data/shard-00000.tar") + "::" + data_path("data/shard-0000{1,2}.tar"),
                 options(4, false, false), shard_samples(kFixtureShards), 4);
}

TEST(Loader, SampleCounts) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  data::Loader csv(data_path("data/train.tsv"), *tok, options(2, true, true));
  EXPECT_EQ(csv.samples_per_epoch(), 11);
  EXPECT_EQ(csv.epoch_length(), 11);
  data::Loader wds(data_path("data/" + kShardPattern), *tok, options(2, true, true));
  const auto s = shard_samples(kFixtureShards);
  EXPECT_EQ(wds.samples_per_epoch(), std::count_if(s.begin(), s.end(), [](auto& x) { return x.complete; }));
  EXPECT_EQ(wds.epoch_length(), std::int64_t(s.size()));
}

// Reads `n` batches.
std::vector<data::Batch> read(const std::string& train_data, const data::LoaderOptions& opt, int n,
                              data::LoaderPosition start = {}) {
  data::Loader loader(train_data, *shared_tokenizer(), opt, start);
  std::vector<data::Batch> out;
  for (int i = 0; i < n; ++i) out.push_back(loader.next());
  return out;
}

// Which fixture sample (by name) each (image, ids) row of the batches is; "?" if none, "ambiguous" if several.
std::vector<std::string> identify(const std::vector<data::Batch>& batches, const std::vector<FixtureSample>& pool) {
  std::vector<std::string> out;
  for (const data::Batch& b : batches) {
    const std::int64_t per = 3 * kSize * kSize;
    for (std::int64_t i = 0; i < b.images.shape()[0]; ++i) {
      const Tensor got =
          Tensor::from({3, kSize, kSize}, DType::f32,
                       std::vector<float>(b.images.data<float>() + i * per, b.images.data<float>() + (i + 1) * per));
      const std::vector<std::int64_t> ids(b.ids.data<std::int64_t>() + i * kCtx,
                                          b.ids.data<std::int64_t>() + (i + 1) * kCtx);
      std::string found = "?";
      for (const FixtureSample& s : pool) {
        const auto want = shared_tokenizer()->tokenize(std::string_view(s.caption), kCtx);
        if (s.usable && std::ranges::equal(want, ids) && allclose(reference_image(s, kSize), got, 0.0, 0.0))
          found = found == "?" ? s.name : "ambiguous";
      }
      out.push_back(found);
    }
  }
  return out;
}

TEST(Loader, ShuffledEpochsArePermutationsOfTheUsableSamples) {
  ASSERT_NE(shared_tokenizer(), nullptr);
  struct Case {
    std::string data;
    std::vector<FixtureSample> pool;
  };
  for (const Case& c : {Case{data_path("data/train.tsv"), table_samples("tsv")},
                        Case{data_path("data/" + kShardPattern), shard_samples(kFixtureShards)}}) {
    std::vector<std::string> usable;
    for (const FixtureSample& s : c.pool)
      if (s.usable) usable.push_back(s.name);
    const std::size_t u = usable.size();
    const auto ids = identify(read(c.data, options(1, true, false), int(3 * u)), c.pool);
    std::vector<std::vector<std::string>> epochs;
    for (std::size_t e = 0; e < 3; ++e) {
      epochs.emplace_back(ids.begin() + std::ptrdiff_t(e * u), ids.begin() + std::ptrdiff_t((e + 1) * u));
      std::vector<std::string> sorted = epochs.back(), want = usable;
      std::ranges::sort(sorted);
      std::ranges::sort(want);
      EXPECT_EQ(sorted, want) << c.data << " epoch " << e;
    }
    EXPECT_NE(epochs[0], usable) << c.data;
    EXPECT_NE(epochs[0], epochs[1]) << c.data;
    EXPECT_NE(epochs[1], epochs[2]) << c.data;
  }
}

TEST(Loader, AugmentationIsSeededBySamplePosition) {
  // Without shuffling, usable row r sits at position i of epoch e: its crop comes from
  // Rng(derive_seed(seed, e, augment, i)), whichever worker draws it.
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  const auto rows = table_samples("tsv");
  const data::LoaderOptions o = options(7, false, true, 3);
  const auto batches = read(data_path("data/train.tsv"), o, 2);
  for (std::int64_t e = 0; e < 2; ++e) {
    std::int64_t k = 0;
    for (std::int64_t i = 0; i < std::int64_t(rows.size()); ++i) {
      if (!rows[std::size_t(i)].usable) continue;
      Rng rng(data::derive_seed(o.seed, e, data::SeedPurpose::augment, i));
      const Tensor want =
          image::train_transform(image::load_image(data_path("data/" + rows[std::size_t(i)].image)), kSize, rng);
      const float* p = batches[std::size_t(e)].images.data<float>() + k++ * 3 * kSize * kSize;
      EXPECT_TRUE(allclose(
          want, Tensor::from({3, kSize, kSize}, DType::f32, std::vector<float>(p, p + 3 * kSize * kSize)), 0.0, 0.0))
          << "epoch " << e << " row " << i;
    }
    ASSERT_EQ(k, 7);
  }
}

TEST(Loader, DeterministicAcrossRunsWorkersAndPrefetch) {
  ASSERT_NE(shared_tokenizer(), nullptr);
  for (const std::string& d : {data_path("data/train.tsv"), data_path("data/" + kShardPattern)}) {
    const auto ref = read(d, options(3, true, true, 1), 8);
    data::LoaderOptions many = options(3, true, true, 4);
    many.prefetch = 5;
    for (const auto& other : {read(d, options(3, true, true, 1), 8), read(d, many, 8)})
      for (std::size_t k = 0; k < ref.size(); ++k) EXPECT_TRUE(same_batch(ref[k], other[k])) << d << " batch " << k;
    data::LoaderOptions reseeded = options(3, true, true, 1);
    reseeded.seed = 99;
    EXPECT_FALSE(same_batch(ref[0], read(d, reseeded, 1)[0])) << d;
  }
}

TEST(Loader, ExactResume) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  for (const std::string& d : {data_path("data/train.tsv"), data_path("data/" + kShardPattern)}) {
    const data::LoaderOptions o = options(2, true, true);
    data::Loader a(d, *tok, o);
    std::vector<data::Batch> batches;
    std::vector<data::LoaderPosition> before;  // the position each batch starts from
    for (int k = 0; k < 17; ++k) {
      before.push_back(a.position());
      batches.push_back(a.next());
    }
    EXPECT_GE(batches[13].epoch, 2) << d;
    for (std::size_t k : {1, 2, 3, 5, 8, 11}) {
      data::Loader b(d, *tok, o, before[k]);
      EXPECT_EQ(b.position(), before[k]);
      for (std::size_t j = k; j < k + 3; ++j) {
        EXPECT_TRUE(same_batch(batches[j], b.next())) << d << " resumed at batch " << k << ", batch " << j;
        EXPECT_EQ(b.position(), before[j + 1]) << d;
      }
    }
  }
}

TEST(Loader, SkipReasonNamesTheSample) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  data::Loader tsv(data_path("data/train.tsv"), *tok, options(3, false, false));
  tsv.next();
  EXPECT_NE(tsv.last_skip_reason().find("missing.png: cannot open file"), std::string::npos) << tsv.last_skip_reason();
  tsv.next();
  EXPECT_NE(tsv.last_skip_reason().find("empty caption"), std::string::npos) << tsv.last_skip_reason();
  data::Loader wds(data_path("data/shard-00001.tar"), *tok, options(2, false, false));
  wds.next();
  wds.next();
  EXPECT_NE(wds.last_skip_reason().find("s0103: no image"), std::string::npos) << wds.last_skip_reason();
}

// Polls until the loader has filled its window (or 5 s pass).
std::int64_t settled_ahead(const data::Loader& l, std::int64_t want) {
  for (int i = 0; i < 500 && l.samples_ahead() < want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // time to overshoot, were it unbounded
  return l.samples_ahead();
}

TEST(Loader, PrefetchIsBounded) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  for (int prefetch : {1, 3}) {
    data::LoaderOptions o = options(2, false, false, 3);
    o.prefetch = prefetch;
    data::Loader l(data_path("data/train.tsv"), *tok, o);
    EXPECT_EQ(settled_ahead(l, 2 * prefetch), 2 * prefetch);
    l.next();
    EXPECT_EQ(settled_ahead(l, 2 * prefetch), 2 * prefetch);
  }
}

TEST(Loader, StopsCleanlyWhenTheConsumerStopsEarly) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  for (int next_calls : {0, 1, 3}) {
    data::LoaderOptions o = options(2, true, true, 3);
    o.prefetch = 4;
    data::Loader l(data_path("data/" + kShardPattern), *tok, o);
    for (int i = 0; i < next_calls; ++i) l.next();
  }  // each destructor joins its threads, blocked or busy
}

TEST(Loader, WorkerExceptionsReachNext) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "provokes std::bad_alloc with a huge allocation, which the sanitizers report as fatal";
#endif
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  data::LoaderOptions o = options(2, false, false);
  o.image_size = 1 << 21;  // a 1x1 image to (2^21)^2 RGB: std::bad_alloc in the worker, not a skippable image error
  data::Loader l(data_path("data/dots.tsv"), *tok, o);
  EXPECT_THROW(l.next(), std::bad_alloc);
  EXPECT_THROW(l.next(), std::bad_alloc);  // and again, rather than waiting forever
}

TEST(Loader, Errors) {
  const text::Tokenizer* tok = shared_tokenizer();
  ASSERT_NE(tok, nullptr);
  const auto make = [&](const std::string& d, data::LoaderOptions o, data::LoaderPosition p = {}) {
    data::Loader l(d, *tok, o, p);
  };
  const std::string missing = data_path("data/none.tsv");
  EXPECT_THROW_MSG(make(missing, options(2, true, true)), "csv " + missing + ": cannot open");
  data::LoaderOptions wrong_keys = options(2, true, true);
  wrong_keys.csv_separator = ',';
  EXPECT_THROW_MSG(make(data_path("data/train.csv"), wrong_keys),
                   "no column 'filepath' (columns: 'id', 'caption', 'image')");
  EXPECT_THROW_MSG(make(data_path("data/shard-{00000..00003}.tar"), options(2, true, true)),
                   "webdataset: shard " + data_path("data/shard-00003.tar") + " not found");
  EXPECT_THROW_MSG(make(data_path("data/shard-{00000..00002.tar"), options(2, true, true)), "unmatched '{'");
  EXPECT_THROW_MSG(make(data_path("data/no_usable.tar"), options(2, true, true)),
                   "no sample with an image and a caption in 1 shard(s)");
  EXPECT_THROW_MSG(make(data_path("data/train.tsv"), options(12, true, true)),
                   "11 usable samples per epoch, fewer than the batch size 12");
  EXPECT_THROW_MSG(make(data_path("data/train.tsv"), options(2, true, true), {0, 12}),
                   "start position (epoch 0, sample 12) outside the 11 samples of an epoch");
  EXPECT_THROW_MSG(make(data_path("data/train.tsv"), options(0, true, true)), "loader: invalid options (batch_size 0");
  // Rows exist but none is usable: found at the end of the first epoch, and reported again after that.
  data::Loader none(data_path("data/all_missing.tsv"), *tok, options(2, true, true));
  EXPECT_THROW_MSG(none.next(), "epoch 0 had 0 usable samples of 3, fewer than the batch size 2 (last skipped: image ");
  EXPECT_THROW_MSG(none.next(), "epoch 0 had 0 usable samples of 3");
}

}  // namespace
}  // namespace evaclip::test
