// The block registry (nn/families.hpp): configs select blocks by flags or by name, programs dispatch over
// a list of their own (a subset, or one with a new block) and say in one line what they lack; shape-only
// parameters; the statistics of a block of one's own come from its modules.
#include <nlohmann/json.hpp>

#include "common/test_util.hpp"
#include "evaclip/nn/load_model.hpp"

using namespace evaclip;
using namespace evaclip::nn;

namespace {

// A block of one's own: EVA02 without sub-LN, registered only in the lists below.
struct NoSubLnTestBlock : VisionBlock<EvaAttention<AttnFeatures{.rope = true}>, SwiGluMlp> {
  using VisionBlock::VisionBlock;
  static constexpr const char* name = "test-nosubln";
};
using WithNoSubLn = TypeList<Eva02Block, NoSubLnTestBlock>;

ModelConfig families_config(const std::string& vision_flags, const std::string& extra = "") {
  return parse_model_config(nlohmann::json::parse(R"({"embed_dim": 8, )" + extra + R"("vision_cfg": {)" +
                                                  vision_flags + R"(}, "text_cfg": {}})"),
                            "cfg.json");
}

ClipCfg families_tiny_cfg() {
  ClipCfg c;
  c.embed_dim = 12;
  c.vision.image_size = 24;
  c.vision.patch_size = 6;
  c.vision.width = 16;
  c.vision.layers = 2;
  c.vision.head_width = 8;
  c.vision.mlp_ratio = 2.6667;
  c.text.context_length = 7;
  c.text.vocab_size = 50;
  c.text.width = 8;
  c.text.heads = 2;
  c.text.layers = 1;
  return c;
}

}  // namespace

TEST(Families, ConfigFlagsSelectEachCompiledBlock) {
  EXPECT_EQ(families_config("").block, "eva01");
  EXPECT_EQ(families_config(R"("ls_init_value": 0.1)").block, "eva01-layer-scale");
  EXPECT_EQ(families_config(R"("rope": true, "subln": true, "naiveswiglu": true)").block, "eva02");
  EXPECT_EQ(families_config(R"("postnorm": true)").block, "eva-postnorm");
  EXPECT_THROW_MSG(families_config(R"("postnorm": true, "ls_init_value": 0.1)"),
                   "cfg.json: vision_cfg: no compiled block for rope=0 subln=0 naiveswiglu=0 postnorm=1 layer_scale=1");
}

TEST(Families, ABlockFieldOrOverrideNamesTheBlock) {
  EXPECT_EQ(families_config("", R"("block": "eva02", )").block, "eva02");
  const auto j = nlohmann::json::parse(R"({"embed_dim": 8, "vision_cfg": {"rope": true}, "text_cfg": {}})");
  EXPECT_EQ(parse_model_config<WithNoSubLn>(j, "cfg.json", "test-nosubln").block, "test-nosubln");
  EXPECT_THROW_MSG(parse_model_config(j, "cfg.json", "test-nosubln"),
                   "cfg.json: unknown vision block \"test-nosubln\" (compiled: eva01, eva01-layer-scale, eva02, "
                   "eva-postnorm)");
  EXPECT_EQ(resolve_model_config("", "EVA02-CLIP-B-16").block, "eva02");
  EXPECT_EQ(resolve_model_config<WithNoSubLn>("", "EVA02-CLIP-B-16", "test-nosubln").block, "test-nosubln");
}

TEST(Families, AProgramSaysWhatItWasNotBuiltWith) {
  using OnlyEva02 = TypeList<Eva02Block>;
  const auto j = nlohmann::json::parse(R"({"embed_dim": 8, "vision_cfg": {}, "text_cfg": {}})");
  EXPECT_THROW_MSG(parse_model_config<OnlyEva02>(j, "cfg.json"),
                   "cfg.json: vision block \"eva01\" is not built into this program (built: eva02; CMake option "
                   "EVACLIP_BLOCKS)");
  EXPECT_THROW_MSG(resolve_model_config<OnlyEva02>("", "EVA01-CLIP-B-16"),
                   "--model EVA01-CLIP-B-16: vision block \"eva01-layer-scale\" is not built");
  auto name_of = [](auto p, auto block) { return std::string(decltype(p)::name) + "/" + decltype(block)::type::name; };
  EXPECT_EQ((with_model_types<OnlyEva02, TypeList<fp32>>("fp32", "eva02", name_of)), "fp32/eva02");
  EXPECT_THROW_MSG((with_model_types<OnlyEva02, TypeList<fp32>>("bf16", "eva02", name_of)),
                   "--precision bf16 is not built into this program (built: fp32; CMake option EVACLIP_PRECISIONS)");
  EXPECT_THROW_MSG((with_model_types<OnlyEva02, TypeList<fp32>>("fp8", "eva02", name_of)),
                   "unknown precision \"fp8\" (valid: fp64, fp32, bf16, fp16)");
  EXPECT_THROW_MSG((with_model_types<OnlyEva02, TypeList<fp32>>("fp32", "eva01", name_of)),
                   "vision block \"eva01\" is not built into this program (built: eva02;");
  EXPECT_THROW_MSG(with_vision_block("eva03", [](auto) {}), "unknown vision block \"eva03\" (compiled: eva01,");
}

TEST(Families, WithVisionBlockPassesTheBlockType) {
  const bool picked = with_vision_block<WithNoSubLn>(
      "test-nosubln", []<class Block>(std::type_identity<Block>) { return std::is_same_v<Block, NoSubLnTestBlock>; });
  EXPECT_TRUE(picked);
}

TEST(Families, MetaParametersHaveShapesAndNoMemory) {
  ParamInit real(DType::f32, DType::f32, 0), meta = ParamInit::meta();
  const ParamList a = Clip<Eva02Block>(real, families_tiny_cfg()).params();
  const ParamList b = Clip<Eva02Block>(meta, families_tiny_cfg()).params();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].var.shape(), b[i].var.shape());
    EXPECT_EQ(b[i].var.value().data<float>(), nullptr) << b[i].name;
  }
}

TEST(Families, StatisticsOfABlockOfOnesOwnComeFromItsModules) {
  const ClipCfg c = families_tiny_cfg();
  ParamInit init(DType::f32, DType::f32, 0);
  std::int64_t built = 0;
  for (const auto& p : Clip<NoSubLnTestBlock>(init, c).params()) built += numel(p.var.shape());
  const ModelCounts n = param_count<NoSubLnTestBlock>(c);
  EXPECT_EQ(n.total, built);
  EXPECT_EQ(n.total, param_count<Eva02Block>(c).total - 2 * c.vision.width * c.vision.layers);  // no inner_attn_ln
  // The same GEMMs as EVA02 (sub-LN costs no GEMM): 2 T (4 D^2 + 3 D F) + 4 T^2 D per block, + patch and head.
  const double T = double(c.vision.num_patches() + 1), D = double(c.vision.width), F = double(c.vision.mlp_hidden());
  const double P = double(c.vision.patch_size), E = double(c.embed_dim);
  const double image = double(c.vision.layers) * (2 * T * (4 * D * D + 3 * D * F) + 4 * T * T * D) +
                       2 * (T - 1) * 3 * P * P * D + 2 * D * E;
  EXPECT_DOUBLE_EQ(forward_flops<NoSubLnTestBlock>(c).image, image);
  EXPECT_DOUBLE_EQ(forward_flops<NoSubLnTestBlock>(c).text, forward_flops<Eva02Block>(c).text);
}
