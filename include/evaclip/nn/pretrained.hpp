// pretrained.hpp — defines load_pretrained_image() and load_pretrained_text(): EVA-CLIP's initialisation
// of a fresh model's towers from separately pretrained checkpoints (docs/model-spec.md §5 "Initialisation", §2e, §6).
//
// Image: an EVA MIM checkpoint, in the official key layout (unprefixed, with mask_token, lm_head and RoPE
// tables) or in timm's (fc_norm, fc1_g, q_proj.bias, ...), or the visual tower of a CLIP checkpoint
// (visual. or open_clip's visual.trunk.). A pos_embed grid or patch kernel of another size is resampled as
// the official resize_eva_pos_embed does: torch bicubic, align_corners=False, no antialias, CLS row kept
// (EVA02_B_psz14: kernel 14 -> 16, grid 16 -> 14). timm's resample_patch_embed (FlexiViT pseudo-inverse) is
// a different operation and is not what EVA did.
// Text: an OpenAI CLIP or OpenCLIP state dict, text keys at the top level or under "text.".
//
// Skip-list patterns (fnmatch globs on the name relative to the tower: "head.weight", "text_projection")
// keep those parameters at their fresh init and drop those file keys. A file may also lack the projection
// (head.*, text_projection) and, when it has no sub-LN at all, the EVA-02 inner_attn_ln: EVA-02 MIM towers
// have none, and the official non-strict load leaves LayerNorm's identity init there. Any other parameter
// the file lacks, and any shape that cannot be resampled, is one error naming them all; nothing is assigned
// unless everything fits.
#pragma once

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/resize.hpp"

namespace evaclip::nn {

struct PretrainedReport {
  std::string tower;  // "image" or "text"
  std::string file;
  std::vector<std::string> loaded;      // model parameters filled from the file
  std::vector<std::string> skipped;     // model parameters the skip list kept fresh, then file keys it dropped
  std::vector<std::string> missing;     // model parameters the file lacks that keep their fresh init
  std::vector<std::string> resized;     // loaded parameters resampled to the model's shape
  std::vector<std::string> unexpected;  // file keys of this tower that fit no parameter (not loaded)
  std::vector<std::string> ignored;     // file keys never read: the other tower, stored RoPE tables

  std::string summary() const {
    std::ostringstream os;
    os << tower << " tower from " << file << ": " << loaded.size() << " loaded";
    detail::append_key_list(os, "resized", resized);
    detail::append_key_list(os, "skipped", skipped);
    detail::append_key_list(os, "absent from the file, kept fresh", missing);
    detail::append_key_list(os, "unexpected, not loaded", unexpected);
    if (!ignored.empty()) os << "; " << ignored.size() << " ignored (other tower, RoPE tables)";
    return os.str();
  }
};

// The official training scripts' --skip-list (head.weight head.bias lm_head.weight lm_head.bias mask_token
// text_projection logit_scale), as patterns.
inline std::vector<std::string> default_skip_list() {
  return {"head.*", "lm_head.*", "mask_token", "text_projection", "logit_scale"};
}

// (D, C, P0, P0) -> (D, C, P, P) in fp64: every kernel channel resized like one channel of a pos_embed grid,
// by the same torch bicubic (resize_pos_embed); its CLS row is an unused zero here.
inline Tensor resize_patch_kernel(const Tensor& w, std::int64_t patch) {
  const Shape& s = w.shape();
  EVACLIP_CHECK(s.size() == 4 && s[2] == s[3] && patch > 0, "resize_patch_kernel: kernel ", to_string(s),
                " is not (D, C, P, P)");
  const std::int64_t ch = s[0] * s[1], n0 = s[2] * s[2], n1 = patch * patch;
  const Tensor in = w.to(DType::f64).contiguous();
  Tensor grid = Tensor::zeros({1, 1 + n0, ch}, DType::f64);  // (1, 1 + P0*P0, D*C), channels last
  const double* x = in.data<double>();
  double* g = grid.data<double>();
  for (std::int64_t c = 0; c < ch; ++c)
    for (std::int64_t i = 0; i < n0; ++i) g[(1 + i) * ch + c] = x[c * n0 + i];
  const Tensor r = resize_pos_embed(grid, patch);
  Tensor out = Tensor::empty({s[0], s[1], patch, patch}, DType::f64);
  const double* y = r.data<double>();
  double* o = out.data<double>();
  for (std::int64_t c = 0; c < ch; ++c)
    for (std::int64_t i = 0; i < n1; ++i) o[c * n1 + i] = y[(1 + i) * ch + c];
  return out;
}

namespace detail {

inline bool skip_listed(const std::string& name, const std::vector<std::string>& skip) {
  for (const auto& pattern : skip)
    if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

using TowerKeys = std::map<std::string, std::string>;  // name relative to the tower root -> key in the file

// What differs between the towers.
struct TowerRules {
  const char* fn;                  // for messages
  const char* tower;               // "image" / "text"
  std::string model_prefix;        // "visual." / "text."
  std::vector<std::string> roots;  // file roots, most specific first; the first any key has is used
  std::string foreign;             // with the top-level root: the other tower's prefix, not read
  std::function<std::vector<std::string>(const std::string&)> names;  // file names of a model-relative name
  std::function<bool(const std::string&, const TowerKeys&)> may_be_absent;
  std::function<std::optional<Tensor>(const std::string&, const Tensor&, const Shape&)> resample;
};

inline PretrainedReport load_tower(const ParamList& params, const std::string& path,
                                   const std::vector<std::string>& skip, const TowerRules& r) {
  const SafetensorsFile file(path);
  PretrainedReport rep{r.tower, path, {}, {}, {}, {}, {}, {}};
  std::vector<std::pair<std::string, std::string>> names;  // name without a DDP "module." -> file key
  for (const auto& k : file.keys()) names.emplace_back(k.rfind("module.", 0) == 0 ? k.substr(7) : k, k);
  std::string root;
  for (const auto& cand : r.roots)
    if (std::any_of(names.begin(), names.end(), [&](const auto& n) { return n.first.rfind(cand, 0) == 0; })) {
      root = cand;
      break;
    }
  TowerKeys tower;
  for (const auto& [n, k] : names) {
    const bool mine = n.rfind(root, 0) == 0 && !(root.empty() && !r.foreign.empty() && n.rfind(r.foreign, 0) == 0);
    if (mine && !ignorable(n)) tower.emplace(n.substr(root.size()), k);
    else rep.ignored.push_back(k);
  }

  std::vector<std::pair<Var, Tensor>> plan;
  std::vector<std::string> absent, mismatched;
  std::set<std::string> used;
  std::size_t tower_params = 0;
  for (const auto& p : params) {
    if (p.name.rfind(r.model_prefix, 0) != 0) continue;
    ++tower_params;
    const std::string rel = p.name.substr(r.model_prefix.size());
    TowerKeys::const_iterator it = tower.end();
    for (const auto& cand : r.names(rel))
      if ((it = tower.find(cand)) != tower.end()) break;
    if (it != tower.end()) used.insert(it->first);
    if (skip_listed(rel, skip) || (it != tower.end() && skip_listed(it->first, skip))) {
      rep.skipped.push_back(p.name);
    } else if (it == tower.end()) {
      (r.may_be_absent(rel, tower) ? rep.missing : absent).push_back(p.name);
    } else {
      Tensor t = file.tensor(it->second);
      if (t.shape() != p.var.shape()) {
        std::optional<Tensor> re = r.resample ? r.resample(rel, t, p.var.shape()) : std::nullopt;
        if (!re || re->shape() != p.var.shape()) {
          mismatched.push_back(it->second + " " + to_string(t.shape()) + " vs model " + to_string(p.var.shape()));
          continue;
        }
        t = *re;
        rep.resized.push_back(p.name);
      }
      plan.emplace_back(p.var, t);
      rep.loaded.push_back(p.name);
    }
  }
  EVACLIP_CHECK(tower_params > 0, r.fn, ": the model has no ", r.model_prefix, "* parameters");
  for (const auto& [rel, key] : tower)
    if (!used.count(rel)) (skip_listed(rel, skip) ? rep.skipped : rep.unexpected).push_back(key);
  if (!absent.empty() || !mismatched.empty()) {
    std::ostringstream os;
    os << r.fn << ": " << path << " does not fit the model's " << r.tower << " tower (read "
       << (root.empty() ? std::string("top-level") : "'" + root + "'") << " keys)";
    append_key_list(os, "missing", absent);
    append_key_list(os, "shape mismatches", mismatched);
    fail(os.str());
  }
  for (const auto& [var, value] : plan) var.assign(value);
  return rep;
}

}  // namespace detail

// Fills the visual.* parameters of `model_params` (CustomCLIP names, e.g. Clip::params()) from a MIM or CLIP
// vision checkpoint; `cfg` is the model's vision config (the grid and patch size to resample to).
inline PretrainedReport load_pretrained_image(const ParamList& model_params, const VisionCfg& cfg,
                                              const std::string& file, const std::vector<std::string>& skip_list) {
  detail::TowerRules r;
  r.fn = "load_pretrained_image";
  r.tower = "image";
  r.model_prefix = "visual.";
  r.roots = {"visual.trunk.", "visual.", ""};
  r.names = [](const std::string& rel) {
    std::vector<std::string> out;
    for (const auto& c : detail::candidate_keys("visual." + rel))  // official and timm names
      out.push_back(c.substr(c.rfind("visual.trunk.", 0) == 0 ? 13 : 7));
    if (rel.rfind("norm.", 0) == 0) out.push_back("fc_norm." + rel.substr(5));  // timm's MIM towers: fc_norm
    return out;
  };
  r.may_be_absent = [](const std::string& rel, const detail::TowerKeys& tower) {
    if (rel.rfind("head.", 0) == 0) return true;
    if (rel.find(".attn.inner_attn_ln.") == std::string::npos) return false;
    return std::none_of(tower.begin(), tower.end(), [](const auto& kv) {
      return kv.first.find(".attn.inner_attn_ln.") != std::string::npos ||
             kv.first.find(".attn.norm.") != std::string::npos;
    });
  };
  r.resample = [&cfg](const std::string& rel, const Tensor& t, const Shape& want) -> std::optional<Tensor> {
    const Shape& s = t.shape();
    if (rel == "pos_embed" && s.size() == 3 && want.size() == 3 && s[0] == 1 && s[2] == want[2] && s[1] >= 2) {
      const auto g = std::llround(std::sqrt(double(s[1] - 1)));
      if (g * g == s[1] - 1) return resize_pos_embed(t.to(DType::f64), cfg.grid());
    }
    if (rel == "patch_embed.proj.weight" && s.size() == 4 && want.size() == 4 && s[0] == want[0] && s[1] == want[1] &&
        s[2] == s[3])
      return resize_patch_kernel(t, cfg.patch_size);
    return std::nullopt;
  };
  return detail::load_tower(model_params, file, skip_list, r);
}

// Fills the text.* parameters of `model_params` (CustomCLIP names) from an OpenAI CLIP or OpenCLIP
// checkpoint.
inline PretrainedReport load_pretrained_text(const ParamList& model_params, const std::string& file,
                                             const std::vector<std::string>& skip_list) {
  detail::TowerRules r;
  r.fn = "load_pretrained_text";
  r.tower = "text";
  r.model_prefix = "text.";
  r.roots = {"text.", ""};
  r.foreign = "visual.";
  r.names = [](const std::string& rel) { return std::vector<std::string>{rel}; };
  r.may_be_absent = [](const std::string& rel, const detail::TowerKeys&) { return rel == "text_projection"; };
  return detail::load_tower(model_params, file, skip_list, r);
}

}  // namespace evaclip::nn
