// load_weights.hpp — defines load_weights(): fills a model's parameters from a safetensors checkpoint in
// any of the accepted key layouts, converting dtypes (docs/model-spec.md §6).
//
// Accepted: the official CLIP class (text keys at the top level), CustomCLIP (text under "text."), and
// open_clip/timm (vision under "visual.trunk." with timm's names); a "module." prefix (DDP wrappers) is
// stripped. The stored RoPE tables (freqs_cos/freqs_sin) are ignored: evaclip recomputes them. Every
// missing key, unexpected key and shape mismatch is reported together in one error.
#pragma once

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/params.hpp"

namespace evaclip::nn {

namespace detail {
inline bool replace_once(std::string& s, const std::string& from, const std::string& to) {
  const auto p = s.find(from);
  if (p == std::string::npos) return false;
  s.replace(p, from.size(), to);
  return true;
}

// The names a checkpoint may use for one of our (official) keys.
inline std::vector<std::string> candidate_keys(const std::string& key) {
  std::vector<std::string> c{key};
  if (key.rfind("text.", 0) == 0) c.push_back(key.substr(5));  // official CLIP class: text at the top level
  else if (key.rfind("visual.", 0) != 0 && key != "logit_scale") c.push_back("text." + key);
  if (key.rfind("visual.", 0) == 0) {  // open_clip / timm trunk names
    std::string t = "visual.trunk." + key.substr(7);
    replace_once(t, ".attn.inner_attn_ln.", ".attn.norm.") || replace_once(t, ".mlp.ffn_ln.", ".mlp.norm.") ||
        replace_once(t, ".mlp.w1.", ".mlp.fc1_g.") || replace_once(t, ".mlp.w2.", ".mlp.fc1_x.") ||
        replace_once(t, ".mlp.w3.", ".mlp.fc2.");
    c.push_back(t);
    std::string b = t;  // with separate q/k/v projections timm stores q/v biases as the projections' biases
    if (replace_once(b, ".attn.q_bias", ".attn.q_proj.bias") || replace_once(b, ".attn.v_bias", ".attn.v_proj.bias"))
      c.push_back(b);
  }
  return c;
}

// Appends "; <n> <what>: a, b, ..." (the first 8 names) to a one-line load message.
inline void append_key_list(std::ostringstream& os, const char* what, const std::vector<std::string>& v) {
  if (v.empty()) return;
  os << "; " << v.size() << ' ' << what << ": ";
  for (std::size_t i = 0; i < v.size() && i < 8; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > 8) os << ", ...";
}

inline bool ignorable(const std::string& key) {
  return key.find("freqs_cos") != std::string::npos || key.find("freqs_sin") != std::string::npos ||
         key.ends_with("attn.k_bias");  // timm's zero, non-persistent k bias
}
}  // namespace detail

struct LoadReport {
  std::size_t loaded = 0;
  std::size_t ignored = 0;  // RoPE tables and the like
  std::vector<std::string> source_keys;  // per parameter (in ParamList order), the file key it was read from
};

inline LoadReport load_weights(const ParamList& params, const SafetensorsFile& file) {
  // Strip a DDP "module." prefix once, for every key.
  std::map<std::string, std::string> by_name;  // checkpoint name without wrapper -> key in the file
  for (const auto& k : file.keys()) by_name.emplace(k.rfind("module.", 0) == 0 ? k.substr(7) : k, k);

  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  LoadReport rep;
  for (const auto& p : params) {
    const std::string* found = nullptr;
    for (const auto& cand : detail::candidate_keys(p.name))
      if (auto it = by_name.find(cand); it != by_name.end()) {
        found = &it->second;
        used.insert(it->first);
        break;
      }
    if (!found) {
      missing.push_back(p.name);
      continue;
    }
    const SafetensorsEntry& e = file.entry(*found);
    if (e.shape != p.var.shape()) {
      mismatched.push_back(*found + " " + to_string(e.shape) + " vs model " + to_string(p.var.shape()));
      continue;
    }
    p.var.assign(file.tensor(*found));
    rep.source_keys.push_back(*found);
    ++rep.loaded;
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, key] : by_name) {
    if (used.count(name)) continue;
    if (detail::ignorable(name)) ++rep.ignored;
    else unexpected.push_back(key);
  }
  if (missing.empty() && unexpected.empty() && mismatched.empty()) return rep;
  std::ostringstream os;
  os << "load_weights: " << file.path() << " does not fit the model";
  detail::append_key_list(os, "missing", missing);
  detail::append_key_list(os, "unexpected", unexpected);
  detail::append_key_list(os, "shape mismatches", mismatched);
  fail(os.str());
}

}  // namespace evaclip::nn
