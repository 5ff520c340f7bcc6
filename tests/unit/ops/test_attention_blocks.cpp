// Tests the CPU attention's query blocking: the block size keeps (rows, L) scores within 64K values in whole
// GEMM row tiles; such blocks give the forward and dq the bits of one unblocked pass, any block size gives
// the same values up to rounding (dk/dv sum over blocks), and the public kernels (which block from L = 250
// on) match a naive fp64 formula at such a length, causal or not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/ops/cpu/attention.hpp"

using namespace evaclip;
using cpu::Backend;

namespace {

template <class T>
double max_abs_diff(const std::vector<T>& a, const std::vector<T>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct BlockedRun {
  std::vector<double> o, lse, dq, dk, dv;
};

// Forward and backward with queries taken qb at a time.
BlockedRun run_blocked(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                       const std::vector<double>& dout, std::int64_t BH, std::int64_t L, std::int64_t D, bool causal,
                       std::int64_t qb) {
  BlockedRun g{std::vector<double>(q.size()), std::vector<double>(static_cast<std::size_t>(BH * L)),
               std::vector<double>(q.size()), std::vector<double>(q.size()), std::vector<double>(q.size())};
  cpu::detail::attention_forward_blocked(Backend{}, g.o.data(), g.lse.data(), q.data(), k.data(), v.data(), BH, L, D,
                                         causal, 0.3, qb);
  cpu::detail::attention_backward_blocked(Backend{}, g.dq.data(), g.dk.data(), g.dv.data(), dout.data(), q.data(),
                                          k.data(), v.data(), g.lse.data(), BH, L, D, causal, 0.3, qb);
  return g;
}
}  // namespace

TEST(AttentionBlocks, BlockSizeBoundsTheScores) {
  EXPECT_EQ(cpu::detail::query_block(1), 1);
  EXPECT_EQ(cpu::detail::query_block(77), 77);    // text: one block
  EXPECT_EQ(cpu::detail::query_block(197), 197);  // B/16 image: one block
  EXPECT_EQ(cpu::detail::query_block(257), 240);  // L/14 image: two
  EXPECT_EQ(cpu::detail::query_block(300), 216);
  EXPECT_EQ(cpu::detail::query_block(1 << 17), cpu::detail::gemm_rows);  // at least one row tile
  for (std::int64_t L : {100, 257, 300, 1000, 2000}) {
    const std::int64_t qb = cpu::detail::query_block(L);
    EXPECT_LE(qb * L, 1 << 16) << L;
    EXPECT_TRUE(qb == L || qb % cpu::detail::gemm_rows == 0) << L;
  }
}

TEST(AttentionBlocks, BlockedEqualsUnblocked) {
  const std::int64_t BH = 3, L = 101, D = 16, n = BH * L * D;
  const auto q = test::random_values<double>(static_cast<std::size_t>(n), 1),
             k = test::random_values<double>(static_cast<std::size_t>(n), 2),
             v = test::random_values<double>(static_cast<std::size_t>(n), 3),
             dout = test::random_values<double>(static_cast<std::size_t>(n), 4);
  for (bool causal : {false, true}) {
    const BlockedRun whole = run_blocked(q, k, v, dout, BH, L, D, causal, L);
    for (std::int64_t qb : {1, 5, 24, 48, 72, 100}) {
      const BlockedRun blocks = run_blocked(q, k, v, dout, BH, L, D, causal, qb);
      // Blocks of whole GEMM row tiles (what query_block picks) compute each row of the forward and of dq
      // exactly as one pass does; dk and dv sum over the blocks, equal up to rounding.
      if (qb % cpu::detail::gemm_rows == 0) {
        EXPECT_TRUE(same_bits(whole.o, blocks.o)) << "qb " << qb << " causal " << causal;
        EXPECT_TRUE(same_bits(whole.lse, blocks.lse)) << "qb " << qb;
        EXPECT_TRUE(same_bits(whole.dq, blocks.dq)) << "qb " << qb;
      }
      for (const auto& [w, b] :
           {std::pair{&whole.o, &blocks.o}, std::pair{&whole.lse, &blocks.lse}, std::pair{&whole.dq, &blocks.dq},
            std::pair{&whole.dk, &blocks.dk}, std::pair{&whole.dv, &blocks.dv}})
        EXPECT_LT(max_abs_diff(*w, *b), 1e-12) << "qb " << qb << " causal " << causal;
    }
  }
}

TEST(AttentionBlocks, LongSequenceMatchesNaiveFormula) {
  // L = 400: the public kernels take the queries in blocks of 144.
  const std::int64_t BH = 2, L = 400, D = 8, n = BH * L * D;
  const double scale = 0.35;
  const auto q = test::random_values<double>(static_cast<std::size_t>(n), 5),
             k = test::random_values<double>(static_cast<std::size_t>(n), 6),
             v = test::random_values<double>(static_cast<std::size_t>(n), 7),
             dout = test::random_values<double>(static_cast<std::size_t>(n), 8);
  for (bool causal : {false, true}) {
    std::vector<double> o(static_cast<std::size_t>(n)), lse(static_cast<std::size_t>(BH * L)), dq(o.size()),
        dk(o.size()), dv(o.size());
    cpu::attention_forward(Backend{}, o.data(), lse.data(), q.data(), k.data(), v.data(), BH, L, D, causal, scale);
    cpu::attention_backward(Backend{}, dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                            lse.data(), BH, L, D, causal, scale);
    // Naive: P = softmax(scale q k^T) per row; o = P v; dP = dO v^T; dS = P (dP - rowsum(dP P));
    // dq = scale dS k; dk = scale dS^T q; dv = P^T dO.
    std::vector<double> ro(o.size(), 0.0), rdq(o.size(), 0.0), rdk(o.size(), 0.0), rdv(o.size(), 0.0);
    for (std::int64_t h = 0; h < BH; ++h) {
      const double *qh = q.data() + h * L * D, *kh = k.data() + h * L * D, *vh = v.data() + h * L * D,
                   *gh = dout.data() + h * L * D;
      for (std::int64_t i = 0; i < L; ++i) {
        const std::int64_t vis = causal ? i + 1 : L;
        std::vector<double> p(static_cast<std::size_t>(L), 0.0), dp(static_cast<std::size_t>(L), 0.0);
        double mx = -INFINITY, z = 0, rowdot = 0;
        for (std::int64_t j = 0; j < vis; ++j) {
          double s = 0;
          for (std::int64_t d = 0; d < D; ++d) s += qh[i * D + d] * kh[j * D + d];
          p[static_cast<std::size_t>(j)] = scale * s;
          mx = std::max(mx, p[static_cast<std::size_t>(j)]);
        }
        for (std::int64_t j = 0; j < vis; ++j)
          z += (p[static_cast<std::size_t>(j)] = std::exp(p[static_cast<std::size_t>(j)] - mx));
        EXPECT_NEAR(lse[static_cast<std::size_t>(h * L + i)], mx + std::log(z), 1e-12);
        for (std::int64_t j = 0; j < vis; ++j) {
          p[static_cast<std::size_t>(j)] /= z;
          for (std::int64_t d = 0; d < D; ++d) {
            ro[static_cast<std::size_t>((h * L + i) * D + d)] += p[static_cast<std::size_t>(j)] * vh[j * D + d];
            dp[static_cast<std::size_t>(j)] += gh[i * D + d] * vh[j * D + d];
          }
          rowdot += dp[static_cast<std::size_t>(j)] * p[static_cast<std::size_t>(j)];
        }
        for (std::int64_t j = 0; j < vis; ++j) {
          const double ds = p[static_cast<std::size_t>(j)] * (dp[static_cast<std::size_t>(j)] - rowdot);
          for (std::int64_t d = 0; d < D; ++d) {
            rdq[static_cast<std::size_t>((h * L + i) * D + d)] += scale * ds * kh[j * D + d];
            rdk[static_cast<std::size_t>((h * L + j) * D + d)] += scale * ds * qh[i * D + d];
            rdv[static_cast<std::size_t>((h * L + j) * D + d)] += p[static_cast<std::size_t>(j)] * gh[i * D + d];
          }
        }
      }
    }
    EXPECT_LT(max_abs_diff(ro, o), 1e-12) << "causal " << causal;
    EXPECT_LT(max_abs_diff(rdq, dq), 1e-12) << "causal " << causal;
    EXPECT_LT(max_abs_diff(rdk, dk), 1e-12) << "causal " << causal;
    EXPECT_LT(max_abs_diff(rdv, dv), 1e-12) << "causal " << causal;
  }
}
