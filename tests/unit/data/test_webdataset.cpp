// Webdataset tars and the seeded orders: TarShardReader's grouping and bytes against the manifest written
// with Python's tarfile (truncated shard included), index_shard's counts, ShuffleBuffer's properties,
// and WebdatasetSource resuming to the same stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "common/test_util.hpp"
#include "evaclip/data/webdataset.hpp"
#include "unit/data/data_fixtures.hpp"

namespace evaclip::test {
namespace {

TEST(TarShardReader, GroupsAndBytesMatchManifest) {
  for (const std::string& shard : kFixtureShards) {
    const auto expected = shard_samples({shard});
    data::TarShardReader reader(data_path("data/" + shard));
    data::TarGroup g;
    std::size_t n = 0;
    for (; reader.next_group(g, true); ++n) {
      ASSERT_LT(n, expected.size()) << shard;
      const FixtureSample& e = expected[n];
      EXPECT_EQ(g.key, e.name) << shard;
      EXPECT_EQ(g.complete(), e.complete && g.error.empty()) << shard << " " << e.name;
      if (e.complete) {
        ASSERT_NE(g.image_ext(), nullptr) << e.name;
        EXPECT_EQ(g.members.at(g.image_ext()), image::read_file_bytes(data_path("data/" + e.image))) << e.name;
        const auto& txt = g.members.at("txt");
        EXPECT_EQ(std::string(txt.begin(), txt.end()), e.caption) << e.name;
      }
    }
    EXPECT_EQ(n, expected.size()) << shard;
    if (shard == "shard-00002.tar") {
      EXPECT_NE(reader.broken().find("shard-00002.tar"), std::string::npos) << reader.broken();
      EXPECT_FALSE(g.complete());  // the cut-off sample: its image is short and its caption is gone
    } else {
      EXPECT_EQ(reader.broken(), "") << shard;
    }
  }
}

TEST(TarShardReader, IndexCountsFromHeaders) {
  for (const std::string& shard : kFixtureShards) {
    const auto expected = shard_samples({shard});
    const data::ShardIndex ix = data::index_shard(data_path("data/" + shard));
    EXPECT_EQ(ix.groups, std::int64_t(expected.size())) << shard;
    EXPECT_EQ(ix.complete, std::count_if(expected.begin(), expected.end(), [](auto& s) { return s.complete; }))
        << shard;
  }
  const std::string missing = data_path("data/shard-99999.tar");
  EXPECT_THROW_MSG(data::index_shard(missing), "webdataset: shard " + missing + " not found");
  // A file that is not a tar has no samples (never fatal).
  EXPECT_EQ(data::index_shard(data_path("data/train.tsv")).groups, 0);
}

TEST(ShuffleBuffer, PermutationWithinWindow) {
  for (std::int64_t cap : {1, 2, 5, 50}) {
    data::ShuffleBuffer b(37, cap, 9);
    std::vector<std::int64_t> out;
    for (std::int64_t x; (x = b.next()) >= 0;) out.push_back(x);
    std::vector<std::int64_t> sorted = out;
    std::ranges::sort(sorted);
    std::vector<std::int64_t> all(37);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all) << cap;
    for (std::size_t i = 0; i < out.size(); ++i) EXPECT_LE(out[i], std::int64_t(i) + cap - 1) << cap;
    if (cap == 1) {
      EXPECT_EQ(out, all);
    } else {
      EXPECT_NE(out, all) << cap;
    }
  }
  std::vector<std::int64_t> a, b;
  data::ShuffleBuffer x(20, 6, 1), y(20, 6, 2);
  for (int i = 0; i < 20; ++i) a.push_back(x.next()), b.push_back(y.next());
  EXPECT_NE(a, b);
}

// The names a source yields, n of them.
std::vector<std::string> names(data::SampleSource& s, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    const data::RawSample r = s.next();
    out.push_back(std::to_string(r.epoch) + "/" + std::to_string(r.index) + " " + r.name + " " + r.caption + " " +
                  std::to_string(r.image.size()) + (r.ok ? "" : " !" + r.error));
  }
  return out;
}

TEST(WebdatasetSource, ResumesToTheSameStream) {
  std::vector<data::ShardIndex> shards;
  for (const std::string& s : kFixtureShards) shards.push_back(data::index_shard(data_path("data/" + s)));
  const std::int64_t per_epoch = 13;
  for (std::int64_t buffer : {1, 3, 8}) {
    data::WebdatasetSource from0(shards, true, buffer, 5, {});
    ASSERT_EQ(from0.epoch_length(), per_epoch);
    const auto all = names(from0, int(3 * per_epoch));
    // Each epoch holds every sample once; epochs differ in order.
    std::multiset<std::string> e0, e1;
    for (int i = 0; i < per_epoch; ++i) {
      e0.insert(all[std::size_t(i)].substr(all[std::size_t(i)].find(' ')));
      e1.insert(all[std::size_t(i + per_epoch)].substr(all[std::size_t(i + per_epoch)].find(' ')));
    }
    EXPECT_EQ(e0, e1);
    EXPECT_EQ(std::set<std::string>(e0.begin(), e0.end()).size(), std::size_t(per_epoch));
    for (std::int64_t p : {1, 4, 7, 12, 13, 20}) {
      data::WebdatasetSource resumed(shards, true, buffer, 5, {p / per_epoch, p % per_epoch});
      EXPECT_EQ(names(resumed, 15), std::vector<std::string>(all.begin() + p, all.begin() + p + 15))
          << "buffer " << buffer << " position " << p;
    }
  }
}

TEST(WebdatasetSource, InOrderWithoutShuffle) {
  std::vector<data::ShardIndex> shards;
  for (const std::string& s : kFixtureShards) shards.push_back(data::index_shard(data_path("data/" + s)));
  const auto expected = shard_samples(kFixtureShards);
  data::WebdatasetSource src(shards, false, 100, 5, {});
  for (const FixtureSample& e : expected) {
    const data::RawSample r = src.next();
    EXPECT_NE(r.name.find(e.name), std::string::npos) << r.name << " vs " << e.name;
    EXPECT_EQ(r.ok, e.complete) << e.name << ": " << r.error;  // decoding is the loader's business
  }
}

}  // namespace
}  // namespace evaclip::test
