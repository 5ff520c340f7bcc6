// Tests the CPU threading helpers and the determinism they promise: parallel_ranges / parallel_for cover
// every index exactly once, open a team only for enough work and never nest; strided_copy matches an index
// loop at every thread count; the CPU kernels (GEMM panels, attention, row ops, reductions) give the same
// bits at 1, 2 and 3 threads (GEMM-based ones: to rounding, see expect_thread_close); vec::exp / vec::erf are
// accurate and keep the special values.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/test_util.hpp"
#include "evaclip/ops/cpu/activations.hpp"
#include "evaclip/ops/cpu/attention.hpp"
#include "evaclip/ops/cpu/elementwise.hpp"
#include "evaclip/ops/cpu/gemm.hpp"
#include "evaclip/ops/cpu/layernorm.hpp"
#include "evaclip/ops/cpu/layout.hpp"
#include "evaclip/ops/cpu/linear.hpp"
#include "evaclip/ops/cpu/parallel.hpp"
#include "evaclip/ops/cpu/softmax.hpp"
#include "evaclip/ops/cpu/vector_math.hpp"

using namespace evaclip;
using cpu::Backend;

namespace {

// Runs f() with `threads` OpenMP threads, restoring the previous count.
template <class F>
auto with_threads(int threads, F&& f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto r = f();
  omp_set_num_threads(saved);
  return r;
}

// Same bits for 2 and 3 threads as for 1: f() returns the output values.
template <class F>
void expect_thread_invariant(const char* what, F&& f) {
  const auto one = with_threads(1, f);
  for (int t : {2, 3}) {
    const auto got = with_threads(t, f);
    ASSERT_EQ(one.size(), got.size()) << what;
    EXPECT_EQ(0, std::memcmp(one.data(), got.data(), one.size() * sizeof(one[0]))) << what << ", " << t << " threads";
  }
}

// For GEMM-based kernels: a row panel may round differently from one call (on AVX2 / Zen both oneDNN's
// sgemm and OpenBLAS's dgemm pick kernels and blocking by the call's size; on AVX-512 the panels kept the
// bits), so 2 and 3 threads agree with 1 to rounding, relative to the largest magnitude.
template <class F>
void expect_thread_close(const char* what, double rel, F&& f) {
  const auto one = with_threads(1, f);
  double scale = 0;
  for (const auto x : one) scale = std::max(scale, std::abs(double(x)));
  for (int t : {2, 3}) {
    const auto got = with_threads(t, f);
    ASSERT_EQ(one.size(), got.size()) << what;
    double worst = 0;
    for (std::size_t i = 0; i < one.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - double(one[i])));
    EXPECT_LE(worst, rel * scale) << what << ", " << t << " threads";
  }
}
}  // namespace

TEST(CpuOpsParallel, RangesCoverEveryIndexOnce) {
  for (int threads : {1, 2, 3})
    for (std::int64_t n : {0, 1, 7, 1000, 1 << 17})
      for (std::int64_t work : {1, 64, 1 << 15}) {
        std::vector<int> seen(static_cast<std::size_t>(n), 0);
        std::vector<int> calls_by(8, 0);
        with_threads(threads, [&] {
          cpu::parallel_ranges(n, work, [&](std::int64_t b, std::int64_t e) {
            EXPECT_LT(b, e);
            ++calls_by[static_cast<std::size_t>(omp_get_thread_num())];
            for (std::int64_t i = b; i < e; ++i) ++seen[static_cast<std::size_t>(i)];
          });
          return 0;
        });
        for (std::int64_t i = 0; i < n; ++i)
          ASSERT_EQ(seen[static_cast<std::size_t>(i)], 1) << n << " " << work << " " << i;
        int callers = 0;
        for (int c : calls_by) {
          EXPECT_LE(c, 1);  // one contiguous range per thread
          callers += c;
        }
        // A team only above the grain, and then one range per thread.
        const bool parallel = n * work >= 2 * cpu::parallel_grain && threads > 1;
        if (n > 0) {
          EXPECT_EQ(callers, parallel ? std::min<std::int64_t>(threads, n) : 1) << n << " " << work;
        }
      }
}

TEST(CpuOpsParallel, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3})
    for (std::int64_t n : {0, 1, 2, 5, 4097}) {
      std::vector<int> seen(static_cast<std::size_t>(n), 0);
      with_threads(threads, [&] {
        cpu::parallel_for(n, [&](std::int64_t i) { ++seen[static_cast<std::size_t>(i)]; });
        return 0;
      });
      for (int s : seen) ASSERT_EQ(s, 1);
    }
}

TEST(CpuOpsParallel, NeverNests) {
  const std::int64_t n = 1 << 20;
  std::vector<int> seen(static_cast<std::size_t>(2 * n), 0);
  std::vector<int> levels(2, 0);
  with_threads(2, [&] {
#pragma omp parallel num_threads(2)
    {
      const std::int64_t base = omp_get_thread_num() * n;
      // Inside a region each helper runs serially on the calling thread: one call over the whole range.
      int calls = 0;
      cpu::parallel_ranges(n, 1 << 10, [&](std::int64_t b, std::int64_t e) {
        ++calls;
        EXPECT_EQ(b, 0);
        EXPECT_EQ(e, n);
        EXPECT_EQ(omp_get_level(), 1);
        for (std::int64_t i = b; i < e; ++i) ++seen[static_cast<std::size_t>(base + i)];
      });
      EXPECT_EQ(calls, 1);
      int level = 0;
      cpu::parallel_for(4, [&](std::int64_t) { level = std::max(level, omp_get_level()); });
      levels[static_cast<std::size_t>(omp_get_thread_num())] = level;
    }
    return 0;
  });
  for (int s : seen) ASSERT_EQ(s, 1);
  for (int l : levels) EXPECT_EQ(l, 1);
}

// strided_copy against an index loop, at 1-3 threads (each thread starts its odometer mid-range): head
// permutes, a slice, a broadcast (stride 0), size-1 and mergeable dimensions, a plain copy.
TEST(CpuOpsParallel, StridedCopyMatchesAnIndexLoop) {
  struct Case {
    Shape shape;
    Strides src;
  };
  const std::vector<Case> cases = {
      {{2, 97, 12, 64}, {97 * 768, 64, 97 * 64, 1}},   // merge_heads read: (B, H, T, hd) seen as (B, T, H, hd)
      {{3, 1, 50, 8, 16}, {50 * 128, 0, 128, 16, 1}},  // a size-1 dimension; the last two merge
      {{40, 33, 129}, {33 * 400, 400, 1}},             // a slice of rows 129 wide out of 400
      {{300, 257}, {0, 1}},                            // expand_batch's broadcast
      {{64, 48, 48}, {1, 64 * 48, 64}},                // inner stride not 1
      {{1 << 17}, {1}},                                // one contiguous run
  };
  for (const Case& c : cases) {
    std::int64_t src_len = 1;
    for (std::size_t d = 0; d < c.shape.size(); ++d) src_len += (c.shape[d] - 1) * c.src[d];
    const auto src = test::random_values(std::size_t(src_len), 11);
    const Strides dst_strides = contiguous_strides(c.shape);
    std::vector<float> want(std::size_t(numel(c.shape)));
    std::vector<std::int64_t> idx(c.shape.size(), 0);
    for (std::size_t e = 0; e < want.size(); ++e) {  // row-major index loop
      std::int64_t off = 0;
      for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * c.src[d];
      want[e] = src[std::size_t(off)];
      for (std::size_t d = idx.size(); d-- > 0 && ++idx[d] == c.shape[d];) idx[d] = 0;
    }
    for (int threads : {1, 2, 3}) {
      const auto got = with_threads(threads, [&] {
        std::vector<float> out(want.size(), -1.0f);
        cpu::strided_copy(cpu::Backend{}, out.data(), dst_strides, src.data(), c.src, c.shape);
        return out;
      });
      EXPECT_EQ(got, want) << to_string(c.shape) << ", " << threads << " threads";
    }
  }
}

TEST(CpuOpsParallel, ColumnReduceIsThreadInvariant) {
  const auto x = test::random_values(5000 * 7, 3);
  expect_thread_invariant("column_reduce", [&] {
    std::vector<float> out(7);
    cpu::column_reduce<float>(5000, 7, out.data(), [&](std::int64_t r, float* a) {
      for (int j = 0; j < 7; ++j) a[j] += x[static_cast<std::size_t>(r * 7 + j)];
    });
    return out;
  });
}

TEST(CpuOpsParallel, GemmPanelsAreThreadInvariant) {
  struct Case {
    bool ta, tb;
    std::int64_t m, n, k, batch;
  };
  // Wide and tall (column and row panels), odd sizes, transposes, batches smaller and larger than the threads.
  for (const Case c :
       {Case{false, true, 197, 768, 64, 1}, Case{false, false, 301, 45, 129, 1}, Case{true, false, 77, 513, 96, 1},
        Case{true, true, 130, 70, 33, 2}, Case{false, true, 50, 60, 70, 5}}) {
    auto run = [&]<class T>(T) {
      const auto a = test::random_values<T>(static_cast<std::size_t>(c.batch * c.m * c.k), 1),
                 b = test::random_values<T>(static_cast<std::size_t>(c.batch * c.k * c.n), 2);
      const auto c0 = test::random_values<T>(static_cast<std::size_t>(c.batch * c.m * c.n), 3);
      return [=] {
        cpu::GemmShape s;
        s.trans_a = c.ta, s.trans_b = c.tb, s.m = c.m, s.n = c.n, s.k = c.k, s.batch = c.batch;
        s.stride_a = c.m * c.k, s.stride_b = c.k * c.n, s.stride_c = c.m * c.n;
        auto out = c0;
        cpu::gemm(Backend{}, s, 0.7, a.data(), b.data(), 0.5, out.data());
        return out;
      };
    };
    expect_thread_close("gemm fp64", 1e-13, run(0.0));
    expect_thread_close("gemm fp32", 1e-5, run(0.0f));
  }
}

TEST(CpuOpsParallel, KernelsAreThreadInvariant) {
  const std::int64_t R = 394, C = 768, F = 2048;
  const auto x = test::random_values(static_cast<std::size_t>(R * C), 4),
             w = test::random_values(static_cast<std::size_t>(C), 5),
             b = test::random_values(static_cast<std::size_t>(C), 6),
             dy = test::random_values(static_cast<std::size_t>(R * C), 7);
  expect_thread_invariant("layernorm", [&] {
    std::vector<float> y(x.size()), mean(static_cast<std::size_t>(R)), rstd(static_cast<std::size_t>(R)), dx(x.size()),
        dw(w.size()), db(b.size());
    cpu::layernorm_forward<float>(Backend{}, y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), R, C,
                                  1e-6);
    cpu::layernorm_backward<float>(Backend{}, dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(),
                                   mean.data(), rstd.data(), R, C);
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dw.begin(), dw.end());
    y.insert(y.end(), db.begin(), db.end());
    return y;
  });
  expect_thread_invariant("softmax", [&] {
    std::vector<float> y(x.size()), dx(x.size());
    cpu::softmax_forward<float>(Backend{}, y.data(), x.data(), R, C);
    cpu::softmax_backward<float>(Backend{}, dx.data(), dy.data(), y.data(), R, C);
    y.insert(y.end(), dx.begin(), dx.end());
    return y;
  });
  const auto g = test::random_values(static_cast<std::size_t>(R * F), 8),
             a = test::random_values(static_cast<std::size_t>(R * F), 9),
             dh = test::random_values(static_cast<std::size_t>(R * F), 10);
  expect_thread_invariant("swiglu / gelu", [&] {
    std::vector<float> y(g.size()), da(g.size()), dg(g.size()), ge(g.size());
    cpu::swiglu_forward<float>(Backend{}, y.data(), a.data(), g.data(), R * F);
    cpu::swiglu_backward<float>(Backend{}, da.data(), dg.data(), dh.data(), a.data(), g.data(), R * F);
    cpu::gelu_forward<float>(Backend{}, ge.data(), a.data(), R * F);
    for (const auto* v : {&da, &dg, &ge}) y.insert(y.end(), v->begin(), v->end());
    return y;
  });
  expect_thread_invariant("add", [&] {
    std::vector<float> y(x.size()), dbias(static_cast<std::size_t>(C));
    cpu::add_forward<float>(Backend{}, y.data(), x.data(), dy.data(), 1, R * C);  // residual: one long row
    cpu::add_forward<float>(Backend{}, y.data(), y.data(), b.data(), R, C);       // bias over rows
    cpu::add_backward<float>(Backend{}, static_cast<float*>(nullptr), dbias.data(), dy.data(), R, C);
    y.insert(y.end(), dbias.begin(), dbias.end());
    return y;
  });
  const auto wl = test::random_values(static_cast<std::size_t>(F * C), 11);
  expect_thread_close("linear", 1e-5, [&] {
    std::vector<float> y(static_cast<std::size_t>(R * F)), dx(x.size()), dw(wl.size()),
        dbl(static_cast<std::size_t>(F));
    cpu::linear_forward<float>(Backend{}, y.data(), x.data(), wl.data(), g.data(), R, C, F);
    cpu::linear_backward<float>(Backend{}, dx.data(), dw.data(), dbl.data(), dh.data(), x.data(), wl.data(), R, C, F);
    for (const auto* v : {&dx, &dw, &dbl}) y.insert(y.end(), v->begin(), v->end());
    return y;
  });
}

TEST(CpuOpsParallel, AttentionIsThreadInvariant) {
  // One head (the GEMMs split into panels), many heads (the loop over heads), causal, and bf16 storage.
  struct Case {
    std::int64_t BH, L;
    bool causal;
  };
  for (const Case c : {Case{1, 197, false}, Case{24, 197, false}, Case{16, 77, true}, Case{3, 300, false}}) {
    const std::int64_t D = 64, n = c.BH * c.L * D;
    auto run = [&]<class T>(T) {
      const auto q = test::random_values<T>(static_cast<std::size_t>(n), 1),
                 k = test::random_values<T>(static_cast<std::size_t>(n), 2),
                 v = test::random_values<T>(static_cast<std::size_t>(n), 3),
                 dout = test::random_values<T>(static_cast<std::size_t>(n), 4);
      return [=] {
        std::vector<T> o(static_cast<std::size_t>(n)), lse(static_cast<std::size_t>(c.BH * c.L)), dq(o.size()),
            dk(o.size()), dv(o.size());
        cpu::attention_forward<T>(Backend{}, o.data(), lse.data(), q.data(), k.data(), v.data(), c.BH, c.L, D, c.causal,
                                  0.125);
        cpu::attention_backward<T>(Backend{}, dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(),
                                   v.data(), lse.data(), c.BH, c.L, D, c.causal, 0.125);
        for (const auto* p : {&lse, &dq, &dk, &dv}) o.insert(o.end(), p->begin(), p->end());
        return o;
      };
    };
    expect_thread_close("attention fp64", 1e-13, run(0.0));
    expect_thread_close("attention fp32", 1e-5, run(0.0f));
  }
  const std::int64_t BH = 6, L = 50, D = 64, n = BH * L * D;
  std::vector<bf16> q(static_cast<std::size_t>(n)), k(q.size()), v(q.size());
  const auto r = test::random_values(static_cast<std::size_t>(3 * n), 5);
  for (std::int64_t i = 0; i < n; ++i)
    q[static_cast<std::size_t>(i)] = bf16(r[static_cast<std::size_t>(i)]),
    k[static_cast<std::size_t>(i)] = bf16(r[static_cast<std::size_t>(n + i)]),
    v[static_cast<std::size_t>(i)] = bf16(r[static_cast<std::size_t>(2 * n + i)]);
  expect_thread_close("attention bf16", 1e-2, [&] {
    std::vector<bf16> o(static_cast<std::size_t>(n));
    std::vector<float> lse(static_cast<std::size_t>(BH * L));
    cpu::attention_forward<float>(Backend{}, o.data(), lse.data(), q.data(), k.data(), v.data(), BH, L, D, false,
                                  0.125);
    std::vector<float> out(o.size());
    for (std::size_t i = 0; i < o.size(); ++i) out[i] = float(o[i]);
    out.insert(out.end(), lse.begin(), lse.end());
    return out;
  });
}

TEST(CpuOpsParallel, VectorExpAndErfAreAccurate) {
  std::vector<float> x(200001), e(x.size()), f(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -87.0f + 175.0f * float(i) / float(x.size() - 1);
#pragma omp simd
  for (std::size_t i = 0; i < x.size(); ++i) e[i] = cpu::vec::exp(x[i]);
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(double(x[i]));
    worst = std::max(worst, std::abs(double(e[i]) - ref) / ref);
    EXPECT_EQ(e[i], cpu::vec::exp(x[i])) << "vector and scalar code differ at " << x[i];
  }
  EXPECT_LT(worst, 2.5e-7);  // about 2 ulp
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -6.0f + 12.0f * float(i) / float(x.size() - 1);
#pragma omp simd
  for (std::size_t i = 0; i < x.size(); ++i) f[i] = cpu::vec::erf(x[i]);
  worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(double(f[i]) - std::erf(double(x[i]))));
  EXPECT_LT(worst, 1e-6);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(cpu::vec::exp(-inf), 0.0f);
  EXPECT_EQ(cpu::vec::exp(-100.0f), 0.0f);
  EXPECT_EQ(cpu::vec::exp(inf), inf);
  EXPECT_EQ(cpu::vec::exp(100.0f), inf);
  EXPECT_EQ(cpu::vec::exp(0.0f), 1.0f);
  EXPECT_TRUE(std::isnan(cpu::vec::exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(cpu::vec::erf(inf), 1.0f);
  EXPECT_EQ(cpu::vec::erf(-inf), -1.0f);
  EXPECT_EQ(cpu::vec::sigmoid(-inf), 0.0f);
  EXPECT_EQ(cpu::vec::sigmoid(inf), 1.0f);
  // double stays on the C library.
  EXPECT_EQ(cpu::vec::exp(0.3), std::exp(0.3));
  EXPECT_EQ(cpu::vec::erf(0.3), std::erf(0.3));
}
