// gather_rows.hpp (cpu) — defines gather_rows_forward / gather_rows_backward: y[b, k] = x[b, idx[b, k]].
//
// The one row-gather kernel of the library: FLIP patch dropout (keep K tokens per sample), text EOT
// pooling (K = 1) and the token embedding (B = 1, x = the (V, D) table) all call it. Indices are
// range-checked by the tape op before they get here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "evaclip/core/backend.hpp"
#include "evaclip/core/dtype.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::cpu {

// y: (B, K, D); x: (B, S, D) (S source rows per sample); idx: (B, K) with values in [0, S).
template <class Acc, class T>
void gather_rows_forward(Backend, T* y, const T* x, const std::int64_t* idx, std::int64_t B, std::int64_t S,
                         std::int64_t K, std::int64_t D) {
  parallel_ranges(B * K, D, [&](std::int64_t bk_begin, std::int64_t bk_end) {
    for (std::int64_t bk = bk_begin; bk < bk_end; ++bk) {
      const T* src = x + (bk / K * S + idx[bk]) * D;
      std::copy(src, src + D, y + bk * D);
    }
  });
}

// dx[b, s] = sum of dy[b, k] over the k with idx[b, k] == s (zero when s was not gathered).
// Deterministic without atomics: a counting sort lists, for every source row, the k that read it in
// increasing order; then each source row sums its own list, so rows are independent parallel tasks.
template <class Acc, class T>
void gather_rows_backward(Backend, T* dx, const T* dy, const std::int64_t* idx, std::int64_t B, std::int64_t S,
                          std::int64_t K, std::int64_t D) {
  // first[r] .. first[r + 1]: where the readers of source row r = b·S + s sit in `readers`.
  std::vector<std::int64_t> first(std::size_t(B * S + 1), 0), readers(std::size_t(B * K));
  for (std::int64_t bk = 0; bk < B * K; ++bk) ++first[std::size_t(bk / K * S + idx[bk] + 1)];
  for (std::size_t r = 0; r < std::size_t(B * S); ++r) first[r + 1] += first[r];
  std::vector<std::int64_t> fill(first.begin(), first.end() - 1);
  for (std::int64_t bk = 0; bk < B * K; ++bk) readers[std::size_t(fill[std::size_t(bk / K * S + idx[bk])]++)] = bk;

  parallel_ranges(B * S, D, [&](std::int64_t r_begin, std::int64_t r_end) {
    for (std::int64_t r = r_begin; r < r_end; ++r) {
      T* out = dx + r * D;
      const std::int64_t lo = first[std::size_t(r)], hi = first[std::size_t(r + 1)];
      if (lo == hi) {
        std::fill(out, out + D, convert<T>(0.0f));
        continue;
      }
      std::vector<Acc> acc(std::size_t(D), Acc(0));
      for (std::int64_t i = lo; i < hi; ++i) {
        const T* g = dy + readers[std::size_t(i)] * D;
        for (std::int64_t j = 0; j < D; ++j) acc[std::size_t(j)] += convert<Acc>(g[j]);
      }
      for (std::int64_t j = 0; j < D; ++j) out[j] = convert<T>(acc[std::size_t(j)]);
    }
  });
}

}  // namespace evaclip::cpu
