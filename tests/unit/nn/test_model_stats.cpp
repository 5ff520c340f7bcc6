// Model statistics: the shape-only parameter count against a really built tiny model of every compiled
// block and against the published table for the eight released variants (docs/models.md); FLOPs against
// the published figures; find_variant.
#include <array>
#include <cmath>
#include <map>

#include "common/test_util.hpp"
#include "evaclip/nn/model_stats.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

std::int64_t numel_sum(const ParamList& params, const std::string& prefix, bool with) {
  std::int64_t n = 0;
  for (const auto& p : params)
    if ((p.name.rfind(prefix, 0) == 0) == with) n += numel(p.var.shape());
  return n;
}

double mega(std::int64_t n) { return std::round(double(n) / 1e4) / 100; }  // M to 0.01

}  // namespace

TEST(ModelStats, ParamCountEqualsABuiltModelForEveryFamily) {
  ClipCfg c;
  c.embed_dim = 12;
  c.vision.image_size = 24;
  c.vision.patch_size = 6;
  c.vision.width = 16;
  c.vision.layers = 2;
  c.vision.head_width = 8;
  c.vision.mlp_ratio = 2.6667;  // a truncated hidden size (42)
  c.text.context_length = 7;
  c.text.vocab_size = 50;
  c.text.width = 8;
  c.text.heads = 2;
  c.text.layers = 3;
  for (const char* block : {"eva01", "eva01-layer-scale", "eva02", "eva-postnorm"}) {
    SCOPED_TRACE(block);
    with_vision_block(block, [&]<class Block>(std::type_identity<Block>) {
      ParamInit init(DType::f32, DType::f32, 0);
      const Clip<Block> model(init, c);
      const ParamList params = model.params();
      const ModelCounts n = param_count<Block>(c);
      EXPECT_EQ(n.vision, numel_sum(params, "visual.", true));
      EXPECT_EQ(n.text, numel_sum(params, "text.", true));
      EXPECT_EQ(n.total, numel_sum(params, "", true));
    });
  }
}

TEST(ModelStats, ReproducesTheSpecTableForEveryVariant) {
  // docs/models.md: vision / text / total (M)
  const std::map<std::string, std::array<double, 3>> table = {
      {"EVA01-CLIP-B-16", {86.20, 63.43, 149.63}},         {"EVA01-CLIP-g-14", {1012.59, 123.85, 1136.44}},
      {"EVA01-CLIP-g-14-plus", {1012.59, 354.03, 1366.62}}, {"EVA02-CLIP-B-16", {86.26, 63.43, 149.69}},
      {"EVA02-CLIP-L-14", {304.11, 123.65, 427.76}},       {"EVA02-CLIP-L-14-336", {304.43, 123.65, 428.08}},
      {"EVA02-CLIP-bigE-14", {4350.56, 354.03, 4704.59}},  {"EVA02-CLIP-bigE-14-plus", {4350.56, 694.33, 5044.89}}};
  int seen = 0;
  for_each_variant([&]<class V>(V) {
    SCOPED_TRACE(V::name);
    const ModelConfig m = find_variant(V::name);
    const ModelCounts n = param_count(m);
    const auto& row = table.at(V::name);
    EXPECT_DOUBLE_EQ(mega(n.vision), row[0]);
    EXPECT_DOUBLE_EQ(mega(n.text), row[1]);
    EXPECT_DOUBLE_EQ(mega(n.total), row[2]);
    ++seen;
  });
  EXPECT_EQ(seen, 8);
}

TEST(ModelStats, ForwardFlopsMatchPerfNotes) {
  // docs/models.md: B/16 image 35.1, B text 5.96, L/14 image 162.0, L text 13.3, E/14 image 2264, E/14+ text 97.9 GFLOP
  auto gflops = [](const char* name) {
    const ModelConfig m = find_variant(name);
    const ModelFlops f = forward_flops(m);
    return std::pair{f.image / 1e9, f.text / 1e9};
  };
  EXPECT_NEAR(gflops("EVA02-CLIP-B-16").first, 35.1, 0.05);
  EXPECT_NEAR(gflops("EVA02-CLIP-B-16").second, 5.96, 0.005);
  EXPECT_NEAR(gflops("EVA02-CLIP-L-14").first, 162.0, 0.5);
  EXPECT_NEAR(gflops("EVA02-CLIP-L-14").second, 13.3, 0.05);
  EXPECT_NEAR(gflops("EVA02-CLIP-bigE-14").first, 2264, 5);
  EXPECT_NEAR(gflops("EVA02-CLIP-bigE-14-plus").second, 97.9, 0.5);
}

TEST(ModelStats, FindVariantNamesTheValidChoices) {
  EXPECT_EQ(find_variant("EVA01-CLIP-g-14").block, "eva01");
  EXPECT_EQ(find_variant("EVA01-CLIP-B-16").block, "eva01-layer-scale");
  EXPECT_EQ(find_variant("EVA02-CLIP-bigE-14").block, "eva-postnorm");
  EXPECT_THROW_MSG(find_variant("EVA02-CLIP-X"), "unknown model \"EVA02-CLIP-X\" (valid: EVA01-CLIP-B-16, EVA01-CLIP-g-14,");
}
