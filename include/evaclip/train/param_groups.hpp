// param_groups.hpp — defines the EVA-CLIP optimiser parameter groups (docs/model-spec.md §5): layer ids, the
// weight-decay exclusions and make_param_groups(), one group per (tower, layer id, decay / no decay).
//
// Facts from the official EVA-CLIP/rei/training/optim.py (checked against it parameter by parameter in
// tests/unit/train/test_param_groups.cpp):
// - Towers by name: "visual." and "text." parameters; everything else (logit_scale) is "other", which has no
//   layer decay (lr_scale 1). Names must use the training layout (CustomCLIP, text under "text.").
// - Layer id: a name containing an embedding marker is layer 0; else "blocks.<i>." anywhere in the name
//   (it also matches inside "resblocks.<i>.") is layer i + 1; everything else (norm, head, ln_final,
//   text_projection) is layer L + 1. lr_scale = ld^(L + 1 - id).
// - No weight decay for tensors of rank <= 1, names ending ".bias", and the towers' no_weight_decay() sets:
//   visual pos_embed / cls_token, text positional_embedding (a matrix), and logit_scale.
// - The official code drops layer decay entirely when ld >= 1; ld = 1 gives the same scales (all 1).
#pragma once

#include <cmath>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

#include "evaclip/nn/params.hpp"

namespace evaclip::train {

struct GroupSettings {
  double visual_lr = 2e-4, text_lr = 2e-5, other_lr = 5e-4;  // base lrs per tower; "other" = logit_scale
  double visual_ld = 1.0, text_ld = 1.0;                     // layer-wise lr decay per tower
  double visual_wd = 0.05, text_wd = 0.05, other_wd = 0.05;
  std::int64_t visual_layers = 0, text_layers = 0;           // depth L of each tower
};

struct ParamGroup {
  std::string name;  // e.g. "visual.layer_3.decay", "text.layer_13.no_decay", "other.no_decay"
  double base_lr, lr_scale, weight_decay;
  std::vector<nn::NamedParam> params;
};

namespace detail {
enum class Tower { visual, text, other };
inline Tower tower_of(const std::string& name) {
  if (name.starts_with("visual.")) return Tower::visual;
  if (name.starts_with("text.")) return Tower::text;
  EVACLIP_CHECK(!name.starts_with("transformer.") && name != "positional_embedding" &&
                    !name.starts_with("token_embedding.") && !name.starts_with("ln_final.") && name != "text_projection",
                "param groups: \"", name, "\" is a text-tower key at the top level; build the groups from "
                "Clip::params(TextKeys::prefixed) (text under \"text.\", the training layout)");
  return Tower::other;
}
}  // namespace detail

// The layer id of a tower parameter (docs/model-spec.md §5); -1 for parameters outside both towers (the "other" group).
inline int layer_id(const std::string& param_name, std::int64_t visual_layers, std::int64_t text_layers) {
  const detail::Tower tower = detail::tower_of(param_name);
  if (tower == detail::Tower::other) return -1;
  const std::int64_t L = tower == detail::Tower::visual ? visual_layers : text_layers;
  for (const char* marker : {"patch_embed", "pos_embed", "cls_token", "positional_embedding", "token_embedding"})
    if (param_name.find(marker) != std::string::npos) return 0;
  static const std::regex block(R"(blocks\.([0-9]+)\.)");
  std::smatch m;
  if (!std::regex_search(param_name, m, block)) return int(L + 1);
  const std::int64_t i = std::stoll(m[1].str());
  EVACLIP_CHECK(i < L, "layer_id: \"", param_name, "\" is in block ", i, " but its tower has ", L,
                " layers (set GroupSettings::visual_layers / text_layers)");
  return int(i + 1);
}

// Whether the parameter gets weight decay (the exclusions of docs/model-spec.md §5).
inline bool decays(const std::string& param_name, const Shape& shape) {
  if (shape.size() <= 1 || param_name.ends_with(".bias")) return false;
  for (const char* skip : {"visual.pos_embed", "visual.cls_token", "text.positional_embedding", "logit_scale"})
    if (param_name == skip) return false;
  return true;
}

// Groups in the official order: visual groups, then text, then other, each in order of first appearance;
// parameters keep their order within a group.
inline std::vector<ParamGroup> make_param_groups(const nn::ParamList& params, const GroupSettings& s) {
  for (double ld : {s.visual_ld, s.text_ld})
    EVACLIP_CHECK(ld > 0 && ld <= 1, "make_param_groups: layer decay ", ld, " must be in (0, 1]");
  EVACLIP_CHECK(s.visual_layers >= 0 && s.text_layers >= 0, "make_param_groups: negative tower depth");
  std::vector<ParamGroup> groups;
  for (detail::Tower tower : {detail::Tower::visual, detail::Tower::text, detail::Tower::other}) {
    const std::size_t first = groups.size();
    for (const nn::NamedParam& p : params) {
      if (detail::tower_of(p.name) != tower) continue;
      const bool decay = decays(p.name, p.var.shape());
      std::string name;
      ParamGroup g;
      if (tower == detail::Tower::other) {
        name = std::string("other.") + (decay ? "decay" : "no_decay");
        g = {name, s.other_lr, 1.0, decay ? s.other_wd : 0.0, {}};
      } else {
        const bool vis = tower == detail::Tower::visual;
        const std::int64_t L = vis ? s.visual_layers : s.text_layers;
        const int id = layer_id(p.name, s.visual_layers, s.text_layers);
        name = std::string(vis ? "visual" : "text") + ".layer_" + std::to_string(id) + (decay ? ".decay" : ".no_decay");
        const double wd = vis ? s.visual_wd : s.text_wd;
        g = {name, vis ? s.visual_lr : s.text_lr, std::pow(vis ? s.visual_ld : s.text_ld, double(L + 1 - id)),
             decay ? wd : 0.0, {}};
      }
      std::size_t k = first;
      while (k < groups.size() && groups[k].name != name) ++k;
      if (k == groups.size()) groups.push_back(std::move(g));
      groups[k].params.push_back(p);
    }
  }
  return groups;
}

}  // namespace evaclip::train
