// patch_dropout.hpp — defines FLIP patch dropout (docs/model-spec.md §2d): patch_dropout_keep() (how many
// patches stay), patch_dropout_indices() (the random choice) and patch_dropout() (keeping those tokens and
// their RoPE rows).
//
// Runs on the tokens after the positional embedding, before the first block. The CLS token (index 0) always
// stays first; per sample, K patch tokens are kept in the order of the choice (not sorted by position) and
// not rescaled. The RoPE rows are gathered with the same indices, so a kept token keeps the 2D angles of
// its place in the grid, as the official code does when RoPE=1.
#pragma once

#include <algorithm>
#include <numeric>
#include <vector>

#include "evaclip/core/random.hpp"
#include "evaclip/ops/gather_rows.hpp"

namespace evaclip::nn {

// K = max(1, int(N (1 - p))), in double arithmetic as the official code computes it.
inline std::int64_t patch_dropout_keep(std::int64_t num_patches, double p) {
  EVACLIP_CHECK(p >= 0 && p < 1, "patch_dropout: probability ", p, " is outside [0, 1)");
  EVACLIP_CHECK(num_patches > 0, "patch_dropout: ", num_patches, " patches, expected at least one");
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(double(num_patches) * (1.0 - p)));
}

// (B, K) i64 on the host: per sample, N standard normals (sample by sample, in patch order) and the
// indices of the K largest, largest first (the official top-K of Gaussian noise).
inline Tensor patch_dropout_indices(Rng& rng, std::int64_t batch, std::int64_t num_patches, double p) {
  const std::int64_t K = patch_dropout_keep(num_patches, p);
  Tensor idx = Tensor::empty({batch, K}, DType::i64);
  std::vector<double> noise(static_cast<std::size_t>(num_patches));
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_patches));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (double& z : noise) z = rng.normal();
    std::iota(order.begin(), order.end(), std::int64_t(0));
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](std::int64_t i, std::int64_t j) {
      return noise[std::size_t(i)] > noise[std::size_t(j)] || (noise[std::size_t(i)] == noise[std::size_t(j)] && i < j);
    });
    std::copy(order.begin(), order.begin() + K, idx.data<std::int64_t>() + b * K);
  }
  return idx;
}

struct PatchDropped {
  Var x;            // (B, 1 + K, D): CLS, then the kept patch tokens
  Tensor cos, sin;  // (B, K, hd) per-sample RoPE rows; undefined when the input tables were
};

// x: (B, 1 + N, D) with CLS at index 0; cos, sin: (N, hd) RoPE tables in the compute type, or undefined
// (no RoPE); keep_idx: i64 (B, K) patch indices in [0, N) on the tape's device, read again in backward.
template <class P, class B>
PatchDropped patch_dropout(Tape<P, B>& t, const Var& x, const Tensor& cos, const Tensor& sin, const Tensor& keep_idx) {
  using Acc = typename P::compute_t;
  EVACLIP_CHECK(x.defined() && x.shape().size() == 3 && x.shape()[1] >= 2, "patch_dropout: x has shape ",
                x.defined() ? to_string(x.shape()) : std::string("undefined"), ", expected (B, 1 + N, D)");
  const std::int64_t batch = x.shape()[0], N = x.shape()[1] - 1;
  EVACLIP_CHECK(keep_idx.defined() && keep_idx.shape().size() == 2 && keep_idx.shape()[0] == batch,
                "patch_dropout: keep_idx has shape ", keep_idx.defined() ? to_string(keep_idx.shape()) : "undefined",
                ", expected (B, K) with B = ", batch, " for x ", to_string(x.shape()));
  check_indices(t, "patch_dropout", "keep_idx", keep_idx, N);
  const std::int64_t K = keep_idx.shape()[1];

  // Token rows of x to keep, (B, 1 + K): CLS, then 1 + each patch index.
  const Tensor host = keep_idx.to(Device::cpu);
  Tensor rows = Tensor::empty({batch, 1 + K}, DType::i64);
  for (std::int64_t b = 0; b < batch; ++b) {
    std::int64_t* r = rows.data<std::int64_t>() + b * (1 + K);
    r[0] = 0;
    for (std::int64_t k = 0; k < K; ++k) r[1 + k] = 1 + host.data<std::int64_t>()[b * K + k];
  }
  PatchDropped out{gather_rows(t, x, rows.to(B::device)), Tensor(), Tensor()};
  if (!cos.defined() && !sin.defined()) return out;

  // The shared table is one "sample" of N rows; keep_idx read as (1, B K) picks each sample's rows.
  for (const auto& [name, table, dst] : {std::tuple{"cos", &cos, &out.cos}, std::tuple{"sin", &sin, &out.sin}}) {
    EVACLIP_CHECK(table->defined() && table->shape().size() == 2 && table->shape()[0] == N, "patch_dropout: ", name,
                  " has shape ", table->defined() ? to_string(table->shape()) : "undefined", ", expected (", N,
                  ", hd) for x ", to_string(x.shape()));
    EVACLIP_CHECK(table->dtype() == P::compute_dtype && table->device() == B::device && table->is_contiguous(),
                  "patch_dropout: ", name, " ", to_string(table->shape()), " must be contiguous ",
                  dtype_name(P::compute_dtype), " on ", device_name(B::device));
    const std::int64_t hd = table->shape()[1];
    *dst = Tensor::empty({batch, K, hd}, P::compute_dtype, B::device);
    gather_rows_forward<Acc>(t.backend, dst->template data<Acc>(), table->template data<Acc>(),
                             keep_idx.data<std::int64_t>(), 1, N, batch * K, hd);
  }
  return out;
}

}  // namespace evaclip::nn
