// Parameter groups (docs/model-spec.md §5): every EVA02-CLIP-B-16 parameter's layer id, weight decay, base lr and
// lr scale against the official training/optim.py (fixture tests/data/train/eva02_b16_param_groups.tsv from
// tools/make_optimizer_fixtures.py), plus hand-checked names and the error paths.
#include <fstream>
#include <map>
#include <sstream>

#include "common/test_util.hpp"
#include "evaclip/nn/model_stats.hpp"
#include "evaclip/train/param_groups.hpp"

using namespace evaclip;
using namespace evaclip::train;

namespace {

struct Official {
  int ndim, layer;
  std::string tower;
  double lr, lr_scale, wd;
};

std::vector<std::pair<std::string, Official>> read_official() {
  const std::string path = test::data_path("train/eva02_b16_param_groups.tsv");
  std::ifstream f(path);
  EXPECT_TRUE(f) << path;
  std::vector<std::pair<std::string, Official>> rows;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#' || line.starts_with("name\t")) continue;
    std::istringstream is(line);
    std::string name;
    Official o;
    is >> name >> o.ndim >> o.tower >> o.layer >> o.lr >> o.lr_scale >> o.wd;
    EXPECT_FALSE(is.fail()) << line;
    rows.emplace_back(name, o);
  }
  return rows;
}

// EVA02-CLIP-B-16's parameter names with its depths (12 vision, 12 text blocks) but narrow widths: names
// and ranks depend only on the depths and the block family.
nn::ParamList b16_names() {
  nn::ClipCfg c = nn::find_variant("EVA02-CLIP-B-16").clip;
  c.embed_dim = 4;
  c.vision.width = 8;
  c.vision.head_width = 4;
  c.text.width = 8;
  c.text.heads = 2;
  c.text.vocab_size = 10;
  nn::ParamInit init(DType::f32, DType::f32, 1);
  return nn::Clip<nn::Eva02Block>(init, c).params();
}

GroupSettings b16_settings() {
  GroupSettings s;  // the README's B/16 flags
  s.visual_lr = 2e-4, s.text_lr = 2e-5, s.other_lr = 5e-4;
  s.visual_ld = 0.75, s.text_ld = 0.75;
  s.visual_wd = s.text_wd = s.other_wd = 0.05;
  s.visual_layers = 12, s.text_layers = 12;
  return s;
}

}  // namespace

TEST(ParamGroups, EveryEva02B16ParameterMatchesTheOfficialGroups) {
  const auto official = read_official();
  const nn::ParamList params = b16_names();
  ASSERT_EQ(official.size(), 410u);
  ASSERT_EQ(params.size(), official.size());
  std::map<std::string, Official> by_name(official.begin(), official.end());

  const std::vector<ParamGroup> groups = make_param_groups(params, b16_settings());
  std::map<std::string, const ParamGroup*> group_of;
  std::size_t grouped = 0;
  for (const ParamGroup& g : groups) {
    for (const auto& p : g.params) group_of[p.name] = &g;
    grouped += g.params.size();
  }
  EXPECT_EQ(grouped, params.size());
  EXPECT_EQ(groups.size(), 57u);  // per tower 14 layer ids x (decay, no decay), + other

  std::map<std::string, std::string> official_group_name;  // ours -> the official key (tower, layer, decay)
  for (const auto& p : params) {
    SCOPED_TRACE(p.name);
    const auto it = by_name.find(p.name);
    ASSERT_NE(it, by_name.end()) << "not an official parameter";
    const Official& o = it->second;
    EXPECT_EQ(int(p.var.shape().size()), o.ndim);
    EXPECT_EQ(layer_id(p.name, 12, 12), o.layer);
    EXPECT_EQ(decays(p.name, p.var.shape()), o.wd > 0);
    const ParamGroup& g = *group_of.at(p.name);
    EXPECT_EQ(g.base_lr, o.lr);
    EXPECT_DOUBLE_EQ(g.lr_scale, o.lr_scale);
    EXPECT_EQ(g.weight_decay, o.wd);
    EXPECT_TRUE(g.name.starts_with(o.tower + ".")) << g.name;
    // Parameters share one of our groups exactly when they share an official group.
    const std::string key = o.tower + "/" + std::to_string(o.layer) + "/" + std::to_string(o.wd);
    const auto [pos, fresh] = official_group_name.emplace(g.name, key);
    EXPECT_EQ(pos->second, key) << g.name << " mixes official groups";
  }
  EXPECT_EQ(official_group_name.size(), groups.size());
}

TEST(ParamGroups, LayerIdsByHand) {
  EXPECT_EQ(layer_id("visual.patch_embed.proj.weight", 12, 6), 0);
  EXPECT_EQ(layer_id("visual.cls_token", 12, 6), 0);
  EXPECT_EQ(layer_id("visual.blocks.0.attn.q_proj.weight", 12, 6), 1);
  EXPECT_EQ(layer_id("visual.blocks.11.mlp.w3.bias", 12, 6), 12);
  EXPECT_EQ(layer_id("visual.head.weight", 12, 6), 13);
  EXPECT_EQ(layer_id("text.token_embedding.weight", 12, 6), 0);
  EXPECT_EQ(layer_id("text.transformer.resblocks.5.ln_1.bias", 12, 6), 6);  // "blocks.5." inside "resblocks"
  EXPECT_EQ(layer_id("text.text_projection", 12, 6), 7);
  EXPECT_EQ(layer_id("logit_scale", 12, 6), -1);
  EXPECT_THROW_MSG(layer_id("text.transformer.resblocks.6.ln_1.bias", 12, 6), "block 6 but its tower has 6");
  EXPECT_THROW_MSG(layer_id("transformer.resblocks.0.ln_1.bias", 12, 6), "TextKeys::prefixed");
}

TEST(ParamGroups, DecayExclusionsByHand) {
  EXPECT_TRUE(decays("text.token_embedding.weight", {10, 8}));
  EXPECT_TRUE(decays("text.text_projection", {8, 4}));
  EXPECT_FALSE(decays("text.positional_embedding", {77, 8}));
  EXPECT_FALSE(decays("visual.pos_embed", {1, 197, 8}));
  EXPECT_FALSE(decays("visual.blocks.0.norm1.weight", {8}));
  EXPECT_FALSE(decays("visual.patch_embed.proj.bias", {8}));
  EXPECT_FALSE(decays("logit_scale", {}));
}

TEST(ParamGroups, LayerDecayOneGivesUnitScalesAndBadSettingsAreErrors) {
  GroupSettings s = b16_settings();
  s.visual_ld = s.text_ld = 1.0;
  for (const ParamGroup& g : make_param_groups(b16_names(), s)) EXPECT_EQ(g.lr_scale, 1.0) << g.name;
  s.visual_ld = 1.5;
  EXPECT_THROW_MSG(make_param_groups(b16_names(), s), "layer decay 1.5");
  s = b16_settings();
  s.visual_layers = 0;  // the default: must be set for a model with blocks
  EXPECT_THROW_MSG(make_param_groups(b16_names(), s), "visual.blocks.0.norm1.weight\" is in block 0");
}
