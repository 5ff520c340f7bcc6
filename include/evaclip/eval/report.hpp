// report.hpp — defines the JSON form of the evaluation metrics (fractions in [0, 1]; a class without
// samples is null) and write_json, which writes a result file atomically.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evaclip/eval/metrics.hpp"
#include "evaclip/io/file.hpp"

namespace evaclip::eval {

// {"top1": .., "top5": .., "mean_per_class_top1": .., ..., "per_class": [{"class", "samples", "top1", ..}]}
inline nlohmann::ordered_json to_json(const ClassificationMetrics& m, const std::vector<std::string>& classnames) {
  nlohmann::ordered_json j;
  j["samples"] = m.samples;
  j["classes"] = m.class_count.size();
  for (std::size_t q = 0; q < m.ks.size(); ++q) j["top" + std::to_string(m.ks[q])] = m.top_k[q];
  for (std::size_t q = 0; q < m.ks.size(); ++q) j["mean_per_class_top" + std::to_string(m.ks[q])] = m.mean_per_class[q];
  nlohmann::ordered_json per = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < m.class_count.size(); ++c) {
    nlohmann::ordered_json e;
    e["class"] = classnames.at(c);
    e["samples"] = m.class_count[c];
    for (std::size_t q = 0; q < m.ks.size(); ++q) {
      const auto& v = m.per_class[q][c];
      e["top" + std::to_string(m.ks[q])] = v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
    }
    per.push_back(std::move(e));
  }
  j["per_class"] = std::move(per);
  return j;
}

// {"images": .., "captions": .., "text_to_image": {"R@1": .., ..}, "image_to_text": {"R@1": .., ..}}
inline nlohmann::ordered_json to_json(const RetrievalMetrics& m) {
  nlohmann::ordered_json j;
  j["images"] = m.images;
  j["captions"] = m.texts;
  const auto recalls = [&](const std::vector<double>& v) {
    nlohmann::ordered_json r;
    for (std::size_t q = 0; q < m.ks.size(); ++q) r["R@" + std::to_string(m.ks[q])] = v[q];
    return r;
  };
  j["text_to_image"] = recalls(m.text_to_image);
  j["image_to_text"] = recalls(m.image_to_text);
  return j;
}

inline void write_json(const std::string& path, const nlohmann::ordered_json& j) {
  const std::string text = j.dump(2) + "\n";
  io::AtomicFileWriter out(path, "write_json");
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace evaclip::eval
