// model_config.hpp — defines ModelConfig and read_model_config(): a model from a JSON file in the official
// model_configs schema (embed_dim, vision_cfg, text_cfg), and with_vision_block(): the run-time choice of
// the compiled block family from the config's flags.
//
// Dimensions come from the file (official field names and defaults); the block family from its flags:
//   rope + subln + naiveswiglu       -> Eva02Block
//   postnorm                         -> EvaPostNormBlock
//   ls_init_value > 0 (init_values)  -> Eva01LayerScaleBlock
//   none of these                    -> Eva01Block
// Any other combination has no compiled block and is an error naming the flags.
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "evaclip/nn/variants.hpp"

namespace evaclip::nn {

enum class VisionFamily { eva01, eva01_layer_scale, eva02, post_norm };

struct ModelConfig {
  ClipCfg clip;
  VisionFamily family = VisionFamily::eva02;
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

inline ModelConfig parse_model_config(const nlohmann::json& j, const std::string& where) {
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

  const bool rope = get_or<bool>(v, "rope", false, vw), subln = get_or<bool>(v, "subln", false, vw);
  const bool swiglu = get_or<bool>(v, "naiveswiglu", false, vw), post = get_or<bool>(v, "postnorm", false, vw);
  const bool ls = vc.ls_init_value > 0;
  EVACLIP_CHECK(get_or<bool>(v, "qkv_bias", true, vw), vw, ": qkv_bias=false has no compiled block");
  EVACLIP_CHECK(get_or<bool>(v, "intp_freq", true, vw) || !rope, vw,
                ": rope without intp_freq has no compiled block (every released config interpolates)");
  if (rope && subln && swiglu && !post && !ls) m.family = VisionFamily::eva02;
  else if (post && !rope && !subln && !swiglu && !ls) m.family = VisionFamily::post_norm;
  else if (!rope && !subln && !swiglu && !post) m.family = ls ? VisionFamily::eva01_layer_scale : VisionFamily::eva01;
  else
    fail(vw, ": no compiled block for rope=", rope, " subln=", subln, " naiveswiglu=", swiglu, " postnorm=", post,
         " layer_scale=", ls, " (compiled: EVA01, EVA01 + layer scale, EVA02 = rope+subln+naiveswiglu, post-norm E)");
  m.clip.validate();
  return m;
}

inline ModelConfig read_model_config(const std::string& path) {
  std::ifstream in(path);
  EVACLIP_CHECK(in, "model config ", path, ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("model config ", path, ": invalid JSON (", e.what(), ")");
  }
  return parse_model_config(j, "model config " + path);
}

// Calls f(Block{}-typed tag) with the compiled block family: f.template operator()<Block>() style is
// awkward, so f receives a null pointer of the block type: `[&]<class Block>(Block*) { ... }`.
template <class F>
decltype(auto) with_vision_block(VisionFamily family, F&& f) {
  switch (family) {
    case VisionFamily::eva01: return f(static_cast<Eva01Block*>(nullptr));
    case VisionFamily::eva01_layer_scale: return f(static_cast<Eva01LayerScaleBlock*>(nullptr));
    case VisionFamily::eva02: return f(static_cast<Eva02Block*>(nullptr));
    case VisionFamily::post_norm: return f(static_cast<EvaPostNormBlock*>(nullptr));
  }
  fail("with_vision_block: unknown family");
}

}  // namespace evaclip::nn
