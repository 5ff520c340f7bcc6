// data_fixtures.hpp — defines the data tests' view of tests/data/data (tools/make_data_fixtures.py): the
// manifest's samples in file order with their usability known by construction, and their reference
// tensors computed directly (decode + eval transform + tokenise), without the loader.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/image/decode.hpp"
#include "evaclip/image/transform.hpp"
#include "evaclip/text/tokenizer.hpp"

namespace evaclip::test {

// The shards of tests/data/data in name order (the last one truncated).
inline const std::vector<std::string> kFixtureShards = {"shard-00000.tar", "shard-00001.tar", "shard-00002.tar"};

struct FixtureSample {
  std::string name;       // the table's image path, or the tar key
  std::string image;      // file under tests/data/data holding the image bytes ("" if none)
  std::string caption;    // "" if none
  bool usable = false;    // a loader must yield it
  bool complete = false;  // tar: its headers name an image and a caption
};

inline nlohmann::json data_manifest() {
  std::ifstream f(data_path("data/manifest.json"));
  EXPECT_TRUE(f.good()) << "run tools/make_data_fixtures.py";
  return nlohmann::json::parse(f);
}

// The rows of "tsv" or "csv", in file order.
inline std::vector<FixtureSample> table_samples(const std::string& which) {
  const nlohmann::json m = data_manifest();
  std::vector<FixtureSample> out;
  for (const auto& r : m[which]) out.push_back({r["image"], r["image"], r["caption"], r["usable"], true});
  return out;
}

// The samples of the given shards, shard after shard, each in tar order.
inline std::vector<FixtureSample> shard_samples(const std::vector<std::string>& shards) {
  const auto m = data_manifest()["shards"];
  std::vector<FixtureSample> out;
  for (const std::string& s : shards)
    for (const auto& e : m[s])
      out.push_back({e["key"], e["image"].is_null() ? "" : e["image"].get<std::string>(),
                     e["caption"].is_null() ? "" : e["caption"].get<std::string>(), e["usable"], e["complete"]});
  return out;
}

// The eval-transformed image (3, s, s) of a fixture sample.
inline Tensor reference_image(const FixtureSample& s, int size) {
  return image::eval_transform(image::load_image(data_path("data/" + s.image)), size);
}

}  // namespace evaclip::test
