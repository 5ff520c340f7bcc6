// Tests FLIP patch dropout (nn/patch_dropout.hpp): K against the official PatchDropout for a table of (N, p),
// the random choice (top-K of Gaussian noise, unsorted, uniform over patches), CLS handling and the RoPE row
// gather against index loops, gradients by finite differences, errors; and the training forward against the
// official model in fp64/fp32 (tests/data/train_model, tools/make_train_model_fixtures.py), replaying the
// patch indices and drop path draws the official code made.
#include <algorithm>
#include <set>

#include "common/test_util.hpp"
#include "evaclip/io/safetensors.hpp"
#include "evaclip/nn/load_weights.hpp"
#include "evaclip/nn/model_config.hpp"
#include "evaclip/nn/patch_dropout.hpp"

using namespace evaclip;
using namespace evaclip::nn;
using evaclip::test::randn;

namespace {

const std::string kTrainModelDir = test::data_path("train_model/");

Tensor idx_tensor(Shape s, const std::vector<std::int64_t>& v) { return Tensor::from(std::move(s), DType::i64, v); }

// Runs the fixture's vision tower on its inputs with the official run's kept patches (and, when
// with_drop_path, its drop path draws, as factors kept / (1 - rate) at our per-block rate), backpropagates
// sum(W * features) and compares features and every vision gradient with the official values.
template <class Policy>
void check_official(const std::string& expected_file, bool with_drop_path, bool checkpointing, double tol_out,
                    double tol_grad) {
  SCOPED_TRACE(expected_file + " (" + Policy::name + (checkpointing ? ", checkpointed)" : ")"));
  const ModelConfig cfg = read_model_config(kTrainModelDir + "config.json");
  ASSERT_EQ(cfg.block, Eva02Block::name);
  EXPECT_EQ(cfg.clip.vision.patch_dropout, 0.5);
  EXPECT_EQ(cfg.clip.vision.drop_path_rate, 0.5);
  const SafetensorsFile weights(kTrainModelDir + "weights.safetensors"), inputs(kTrainModelDir + "inputs.safetensors"),
      expected(kTrainModelDir + expected_file);
  ParamInit init = ParamInit::for_policy<Policy>(0);
  VisionTransformer<Eva02Block> vis(init, cfg.clip.vision, cfg.clip.embed_dim);
  vis.grad_checkpointing = checkpointing;
  ParamList params;
  vis.params("visual.", params);
  EXPECT_EQ(load_weights(params, weights).loaded, params.size());

  std::vector<BranchDrop> drop(vis.blocks.size());
  std::size_t drawn = 0;
  for (std::size_t i = 0; with_drop_path && i < drop.size(); ++i) {
    const double keep = 1.0 - cfg.clip.vision.drop_path_at(std::int64_t(i));
    for (const auto& [branch, dst] : {std::pair{"attn", &drop[i].attn}, std::pair{"mlp", &drop[i].mlp}}) {
      const std::string key = "drop." + std::to_string(i) + "." + branch;
      if (!expected.contains(key)) continue;
      std::vector<double> s;
      for (double kept : expected.tensor(key).to_vector()) s.push_back(kept / keep);
      *dst = Tensor::from({std::int64_t(s.size())}, Policy::compute_dtype, s);
      ++drawn;
    }
  }
  EXPECT_EQ(drawn, with_drop_path ? 4u : 0u);  // blocks 1 and 2, two branches each; block 0 has rate 0

  Tape<Policy> t;
  const Var x = vis.embed(t, Var(inputs.tensor("pixel_values", Policy::act_dtype)));
  const auto [cos, sin] = vis.template rope_tables<Policy>();
  const PatchDropped d = patch_dropout(t, x, cos, sin, expected.tensor("keep_idx"));
  const Var f = vis.forward_tokens(t, d.x, d.cos, d.sin, drop);
  t.backward(f, inputs.tensor("loss_weight", Policy::act_dtype));  // d sum(W f) / df = W
  EXPECT_LT(test::rel_err(expected.tensor("image_features"), f.value()), tol_out);
  for (const auto& p : params) {
    ASSERT_TRUE(expected.contains("grad." + p.name)) << p.name;
    EXPECT_LT(test::rel_err(expected.tensor("grad." + p.name), p.var.grad()), tol_grad) << p.name;
  }
}

}  // namespace

TEST(PatchDropout, KeepCountMatchesTheOfficialPatchDropout) {
  const SafetensorsFile counts(kTrainModelDir + "official_counts.safetensors");
  const auto N = counts.tensor("keep.N").to_vector(), p = counts.tensor("keep.p").to_vector(),
             K = counts.tensor("keep.K").to_vector();
  ASSERT_GT(N.size(), 50u);
  for (std::size_t i = 0; i < N.size(); ++i)
    EXPECT_EQ(patch_dropout_keep(std::int64_t(N[i]), p[i]), std::int64_t(K[i])) << "N " << N[i] << " p " << p[i];
}

TEST(PatchDropout, IndicesAreTheTopKOfGaussianNoiseInNoiseOrder) {
  const std::int64_t B = 4, N = 25;
  Rng rng(7);
  const Tensor idx = patch_dropout_indices(rng, B, N, 0.5);
  ASSERT_EQ(idx.shape(), (Shape{B, 12}));
  Rng replay(7);  // the same noise, sample by sample
  bool some_unsorted = false;
  for (std::int64_t b = 0; b < B; ++b) {
    std::vector<std::pair<double, std::int64_t>> noise;
    for (std::int64_t n = 0; n < N; ++n) noise.emplace_back(replay.normal(), n);
    std::sort(noise.begin(), noise.end(), std::greater<>());
    std::vector<std::int64_t> got(idx.data<std::int64_t>() + b * 12, idx.data<std::int64_t>() + (b + 1) * 12);
    for (std::size_t k = 0; k < 12; ++k) EXPECT_EQ(got[k], noise[k].second) << "sample " << b << " rank " << k;
    some_unsorted |= !std::is_sorted(got.begin(), got.end());
  }
  EXPECT_TRUE(some_unsorted);
}

TEST(PatchDropout, EveryPatchIsKeptWithProbabilityKOverN) {
  const std::int64_t B = 4000, N = 25, K = 12;
  Rng rng(11);
  const Tensor idx = patch_dropout_indices(rng, B, N, 0.5);
  std::vector<double> count(N, 0);
  for (std::int64_t b = 0; b < B; ++b) {
    std::set<std::int64_t> row(idx.data<std::int64_t>() + b * K, idx.data<std::int64_t>() + (b + 1) * K);
    EXPECT_EQ(row.size(), std::size_t(K));  // no patch twice
    for (std::int64_t i : row) count[std::size_t(i)] += 1;
  }
  const double q = double(K) / double(N), sigma = std::sqrt(double(B) * q * (1 - q));
  for (std::int64_t n = 0; n < N; ++n) EXPECT_NEAR(count[std::size_t(n)], double(B) * q, 5 * sigma) << "patch " << n;
}

TEST(PatchDropout, KeepsClsFirstAndGathersTokensAndRopeRows) {
  const std::int64_t B = 2, N = 6, D = 3, hd = 4, K = 3;
  const Tensor x = randn({B, 1 + N, D}, DType::f64, 1), cos = randn({N, hd}, DType::f64, 2),
               sin = randn({N, hd}, DType::f64, 3);
  const Tensor keep = idx_tensor({B, K}, {5, 0, 3, 2, 4, 1});
  Tape<fp64> t;
  const PatchDropped d = patch_dropout(t, Var(x), cos, sin, keep);
  ASSERT_EQ(d.x.shape(), (Shape{B, 1 + K, D}));
  ASSERT_EQ(d.cos.shape(), (Shape{B, K, hd}));
  ASSERT_EQ(d.sin.shape(), (Shape{B, K, hd}));
  auto xv = x.view<double>(), yv = d.x.value().view<double>(), cv = cos.view<double>(), sv = sin.view<double>(),
       gc = d.cos.view<double>(), gs = d.sin.view<double>();
  auto kv = keep.view<std::int64_t>();
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t j = 0; j < D; ++j) EXPECT_EQ(yv(b, 0, j), xv(b, 0, j));  // CLS
    for (std::int64_t k = 0; k < K; ++k) {
      for (std::int64_t j = 0; j < D; ++j) EXPECT_EQ(yv(b, 1 + k, j), xv(b, 1 + kv(b, k), j));
      for (std::int64_t j = 0; j < hd; ++j) {
        EXPECT_EQ(gc(b, k, j), cv(kv(b, k), j));
        EXPECT_EQ(gs(b, k, j), sv(kv(b, k), j));
      }
    }
  }
  // Without RoPE tables only the tokens are gathered.
  const PatchDropped plain = patch_dropout(t, Var(x), Tensor(), Tensor(), keep);
  EXPECT_FALSE(plain.cos.defined() || plain.sin.defined());
  EXPECT_TRUE(test::allclose(d.x.value(), plain.x.value(), 0, 0));
}

TEST(PatchDropout, GradientMatchesFiniteDifferences) {
  // Through rope2d with the gathered per-sample rows too, as the attention uses them.
  const Tensor cos = randn({5, 8}, DType::f64, 4), sin = randn({5, 8}, DType::f64, 5);
  const Tensor keep = idx_tensor({2, 2}, {4, 1, 0, 3});
  auto f = [&](Tape<fp64>& t, const std::vector<Var>& v) {
    const PatchDropped d = patch_dropout(t, v[0], cos, sin, keep);  // (2, 3, 8)
    return rope2d(t, reshape(t, d.x, {2, 1, 3, 8}), d.cos, d.sin, 1);
  };
  const auto rep = gradcheck(f, {randn({2, 6, 8}, DType::f64, 6)});
  EXPECT_TRUE(rep.ok) << rep.worst;
}

TEST(PatchDropout, BadArgumentsNameTheOp) {
  Tape<fp64> t;
  const Var x(randn({2, 5, 3}, DType::f64, 1));
  const Tensor cos = randn({4, 2}, DType::f64, 2);
  EXPECT_THROW_MSG(patch_dropout(t, x, cos, cos, idx_tensor({2, 1}, {0, 4})),
                   "patch_dropout: keep_idx[1, 0] = 4 is out of range [0, 4)");
  EXPECT_THROW_MSG(patch_dropout(t, x, cos, cos, idx_tensor({3, 1}, {0, 1, 2})),
                   "patch_dropout: keep_idx has shape (3, 1), expected (B, K) with B = 2");
  EXPECT_THROW_MSG(patch_dropout(t, x, randn({5, 2}, DType::f64, 3), cos, idx_tensor({2, 1}, {0, 1})),
                   "patch_dropout: cos has shape (5, 2), expected (4, hd)");
  EXPECT_THROW_MSG(patch_dropout(t, x, cos, Tensor(), idx_tensor({2, 1}, {0, 1})),
                   "patch_dropout: sin has shape undefined");
  EXPECT_THROW_MSG(patch_dropout_keep(10, 1.0), "patch_dropout: probability 1 is outside [0, 1)");
  ClipCfg bad;
  bad.vision.patch_dropout = -0.1;
  EXPECT_THROW_MSG(bad.validate(), "vision_cfg: patch_dropout -0.1 is outside [0, 1)");
}

TEST(PatchDropout, ConfigReadsTheOfficialKeys) {
  nlohmann::json j = nlohmann::json::parse(
      R"({"embed_dim": 8, "vision_cfg": {"patch_dropout": 0.25, "drop_path_rate": 0}, "text_cfg": {}})");
  const ModelConfig m = parse_model_config(j, "cfg.json");
  EXPECT_EQ(m.clip.vision.patch_dropout, 0.25);
  EXPECT_EQ(m.clip.vision.drop_path_rate, 0.0);
  const ModelConfig d =
      parse_model_config(nlohmann::json::parse(R"({"embed_dim": 8, "vision_cfg": {}, "text_cfg": {}})"), "c");
  EXPECT_EQ(d.clip.vision.patch_dropout, 0.0);
  EXPECT_EQ(d.clip.vision.drop_path_rate, 0.0);
}

TEST(PatchDropout, MatchesTheOfficialModel) {
  check_official<fp64>("expected_patch_dropout.safetensors", false, false, 1e-6, 1e-6);
  check_official<fp32>("expected_patch_dropout.safetensors", false, false, 1e-4, 1e-3);
}

TEST(PatchDropout, WithDropPathMatchesTheOfficialTrainingForward) {
  check_official<fp64>("expected_train.safetensors", true, false, 1e-6, 1e-6);
  check_official<fp64>("expected_train.safetensors", true, true, 1e-6, 1e-6);
  check_official<fp32>("expected_train.safetensors", true, false, 1e-4, 1e-3);
}
