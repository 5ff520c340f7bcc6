// model_config.hpp — defines ModelConfig and read_model_config(): a model from a JSON file in the official
// model_configs schema (embed_dim, vision_cfg, text_cfg), its vision block chosen from the compiled ones.
//
// Dimensions come from the file (official field names and defaults). The vision block is the one named
// by a "block" field (or the caller's override, a program's --block), else the block of the list
// (nn/families.hpp) whose `flags` equal the file's rope, subln, naiveswiglu, postnorm and
// ls_init_value > 0; no match is an error naming the flags.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "evaclip/nn/families.hpp"
#include "evaclip/nn/variants.hpp"

namespace evaclip::nn {

struct ModelConfig {
  ClipCfg clip;
  std::string block = Eva02Block::name;  // the vision block's name, one of the compiled list's
  TextKeys text_keys = TextKeys::top_level;  // "custom_text": true -> keys under "text."
};

namespace detail {
template <class T>
T get_or(const nlohmann::json& j, const char* key, T fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(where, ": field \"", key, "\" has the wrong type (", j[key].type_name(), ")");
  }
}
}  // namespace detail

// `block`, when not empty, names the vision block (a program's --block) and overrides the file's.
template <class Blocks = CompiledBlocks>
ModelConfig parse_model_config(const nlohmann::json& j, const std::string& where, const std::string& block = "") {
  using detail::get_or;
  EVACLIP_CHECK(j.is_object() && j.contains("vision_cfg") && j.contains("text_cfg") && j.contains("embed_dim"), where,
                ": not a model config (needs embed_dim, vision_cfg and text_cfg)");
  const auto& v = j["vision_cfg"];
  const auto& t = j["text_cfg"];
  const std::string vw = where + ": vision_cfg", tw = where + ": text_cfg";
  ModelConfig m;
  m.clip.embed_dim = get_or<std::int64_t>(j, "embed_dim", 512, where);
  VisionCfg& vc = m.clip.vision;
  vc.image_size = get_or<std::int64_t>(v, "image_size", 224, vw);
  vc.patch_size = get_or<std::int64_t>(v, "patch_size", 16, vw);
  vc.width = get_or<std::int64_t>(v, "width", 768, vw);
  vc.layers = get_or<std::int64_t>(v, "layers", 12, vw);
  vc.head_width = get_or<std::int64_t>(v, "head_width", 64, vw);
  vc.mlp_ratio = get_or<double>(v, "mlp_ratio", 4.0, vw);
  vc.pt_hw_seq_len = get_or<std::int64_t>(v, "pt_hw_seq_len", 16, vw);
  vc.ls_init_value = get_or<double>(v, "ls_init_value", get_or<double>(v, "init_values", 0.0, vw), vw);
  vc.patch_dropout = get_or<double>(v, "patch_dropout", 0.0, vw);
  vc.drop_path_rate = get_or<double>(v, "drop_path_rate", 0.0, vw);
  TextCfg& tc = m.clip.text;
  tc.context_length = get_or<std::int64_t>(t, "context_length", 77, tw);
  tc.vocab_size = get_or<std::int64_t>(t, "vocab_size", 49408, tw);
  tc.width = get_or<std::int64_t>(t, "width", 512, tw);
  tc.heads = get_or<std::int64_t>(t, "heads", 8, tw);
  tc.layers = get_or<std::int64_t>(t, "layers", 12, tw);
  m.text_keys = get_or<bool>(j, "custom_text", false, where) ? TextKeys::prefixed : TextKeys::top_level;

  const VisionFlags f{.rope = get_or<bool>(v, "rope", false, vw),
                      .subln = get_or<bool>(v, "subln", false, vw),
                      .naiveswiglu = get_or<bool>(v, "naiveswiglu", false, vw),
                      .postnorm = get_or<bool>(v, "postnorm", false, vw),
                      .layer_scale = vc.ls_init_value > 0};
  EVACLIP_CHECK(get_or<bool>(v, "qkv_bias", true, vw), vw, ": qkv_bias=false has no compiled block");
  EVACLIP_CHECK(get_or<bool>(v, "intp_freq", true, vw) || !f.rope, vw,
                ": rope without intp_freq has no compiled block (every released config interpolates)");
  // The caller's override, the file's "block", or the block the flags select: in Blocks, else in
  // CompiledBlocks, so that a family left out of this program's build is reported as such.
  m.block = !block.empty() ? block : get_or<std::string>(j, "block", "", where);
  if (m.block.empty()) m.block = block_for_flags(f, Blocks{});
  if (m.block.empty()) m.block = block_for_flags(f, CompiledBlocks{});
  EVACLIP_CHECK(!m.block.empty(), vw, ": no compiled block for rope=", f.rope, " subln=", f.subln, " naiveswiglu=",
                f.naiveswiglu, " postnorm=", f.postnorm, " layer_scale=", f.layer_scale, " (compiled: ",
                names_of(Blocks{}), "; a \"block\" field or --block names one)");
  if (!has_name(m.block, Blocks{})) missing_block<Blocks>(m.block, where);
  m.clip.validate();
  return m;
}

template <class Blocks = CompiledBlocks>
ModelConfig read_model_config(const std::string& path, const std::string& block = "") {
  std::ifstream in(path);
  EVACLIP_CHECK(in, "model config ", path, ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("model config ", path, ": invalid JSON (", e.what(), ")");
  }
  return parse_model_config<Blocks>(j, "model config " + path, block);
}

}  // namespace evaclip::nn
