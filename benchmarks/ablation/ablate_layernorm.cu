// ablate_layernorm.cu — defines the LayerNorm kernel ablation, `ablate_layernorm N`: the CPU reference
// cpu::layernorm_forward, the production kernel cuda::layernorm_forward as version 0 and the candidates
// below, at the released models' LayerNorm shapes (harness: ablation.cuh).
//
// The candidates reuse the production row kernel (cuda::rows::norm_rows_cached) with other launch plans:
//   v1  a warp per row at every width up to 2048 (up to 64 cached floats per lane; ptxas, sm_90, nvcc 13.0:
//       100 registers, no spills): is the block per row that the production plan switches to above 1024
//       columns (g/14's 1408, bigE's 1792, the 1280-wide text tower) worth its __syncthreads reductions?
//       Up to 1024 columns it is version 0's plan, so its ratio there shows the timing noise.
//   v2  a block per row at every width, one 16-byte vector per thread: does the warp path pay up to 1024
//       columns? (Above 1024 in 16-bit types this is version 0's plan.)
// Both take rows of whole 16-byte vectors at aligned addresses, as every case here has.
#include <cstdint>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "ablation.cuh"
#include "evaclip/ops/cpu/layernorm.hpp"
#include "evaclip/ops/cuda/layernorm.cuh"

using namespace evaclip;
namespace rows = evaclip::cuda::rows;

namespace {

// The number of 16-byte vectors in a row; the candidates need whole, aligned ones.
template <class T>
std::int64_t row_vectors(const T* y, const T* x, const T* w, const T* b, std::int64_t C) {
  EVACLIP_CHECK(C % cuda::kVec16<T> == 0 && rows::addr_bits(y, x, w, b) % 16 == 0,
                "ablate_layernorm: the candidates take 16-byte aligned rows of whole 16-byte vectors, not width ", C);
  return C / cuda::kVec16<T>;
}

// Calls f(std::integral_constant<int, V>) for the power of two V == v, V <= Max.
template <int Max, int V = 1, class F>
void with_chunks(int v, F&& f) {
  if constexpr (V <= Max) {
    if (v == V) f(std::integral_constant<int, V>{});
    else with_chunks<Max, 2 * V>(v, f);
  }
}

// v1: the warp kernel (4 rows per 128-thread block) with V chunks per lane, the fewest that cover the row.
template <class T>
void layernorm_warp_rows(cuda::Backend be, T* y, float* mean, float* rstd, const T* x, const T* w, const T* b,
                         std::int64_t R, std::int64_t C, double eps) {
  constexpr int N = cuda::kVec16<T>, kMaxV = 64 / N;
  const std::int64_t units = row_vectors(y, x, w, b, C);
  EVACLIP_CHECK(units <= 32 * kMaxV, "ablate_layernorm v1: rows up to ", 32 * kMaxV * N, " wide, not ", C);
  int v = 1;
  while (32 * v < units) v *= 2;
  with_chunks<kMaxV>(v, [&](auto vc) {
    rows::norm_rows_cached<T, N, decltype(vc)::value, true>
        <<<unsigned(cuda::ceil_div(R, rows::kWarpRows)), 32 * rows::kWarpRows, 0, cuda::stream_of(be)>>>(
            rows::PlainRows<T>{x, C}, y, mean, rstd, w, b, R, int(C), float(eps));
  });
  cuda::check_launch(be, "ablate_layernorm v1");
}

// v2: the block kernel, one block of round_up32(C / N) threads per row.
template <class T>
void layernorm_block_rows(cuda::Backend be, T* y, float* mean, float* rstd, const T* x, const T* w, const T* b,
                          std::int64_t R, std::int64_t C, double eps) {
  constexpr int N = cuda::kVec16<T>;
  const std::int64_t units = row_vectors(y, x, w, b, C);
  EVACLIP_CHECK(units <= rows::kMaxBlockThreads, "ablate_layernorm v2: rows up to ", rows::kMaxBlockThreads * N,
                " wide, not ", C);
  rows::norm_rows_cached<T, N, 1, false><<<unsigned(R), rows::round_up32(units), 0, cuda::stream_of(be)>>>(
      rows::PlainRows<T>{x, C}, y, mean, rstd, w, b, R, int(C), float(eps));
  cuda::check_launch(be, "ablate_layernorm v2");
}

// Version v is kernels<T>[v]: every version has the production kernel's signature.
template <class T>
using Kernel = void (*)(cuda::Backend, T*, float*, float*, const T*, const T*, const T*, std::int64_t, std::int64_t,
                        double);
template <class T>
constexpr Kernel<T> kernels[] = {cuda::layernorm_forward<float, T>, layernorm_warp_rows<T>, layernorm_block_rows<T>};

struct LayerNorm {
  static constexpr const char* name = "layernorm";
  static constexpr const char* reference = "cpu::layernorm_forward";
  static constexpr ablation::Rate rate = ablation::Rate::bandwidth;
  static constexpr const char* versions[] = {
      "cuda::layernorm_forward: a warp per row up to 1024 columns, a block per row above",
      "a warp per row up to 2048 columns (up to 64 cached floats per lane)",
      "a block per row at every width, one 16-byte vector per thread",
  };

  // R rows of C: batch x tokens of a tower, its width.
  struct Case {
    std::string label;
    std::int64_t rows, width;
  };
  // 1024 images or captions, as bench_norms_cuda.cu; every tower's width once (EVA01-B/16 shares B/16's).
  static std::vector<Case> cases() {
    return {{"B/16 image 1024x197 x 768", 1024 * 197, 768},   {"L/14 image 1024x257 x 1024", 1024 * 257, 1024},
            {"g/14 image 1024x257 x 1408", 1024 * 257, 1408}, {"bigE/14 image 1024x257 x 1792", 1024 * 257, 1792},
            {"B/16 text 1024x77 x 512", 1024 * 77, 512},      {"bigE/14+ text 1024x77 x 1280", 1024 * 77, 1280}};
  }

  // y = LN(x) with w, b; mean and rstd saved. Inputs as tests/cuda/test_layernorm.cu draws them: x of mean 1.5
  // (exercises the two-pass variance) and std 2, w of mean 1, b of mean 0, both std 0.5.
  template <class T>
  struct Problem {
    std::int64_t R, C;
    Tensor x, w, b, y_ref, mean_ref, rstd_ref;  // host
    Tensor dx, dw, db, y, mean, rstd;           // device
    explicit Problem(const Case& c)
        : R(c.rows),
          C(c.width),
          x(ablation::random_host({R, C}, dtype_of<T>(), 1, 1.5, 2.0)),
          w(ablation::random_host({C}, dtype_of<T>(), 2, 1.0, 0.5)),
          b(ablation::random_host({C}, dtype_of<T>(), 3, 0.0, 0.5)),
          y_ref(Tensor::empty({R, C}, dtype_of<T>())),
          mean_ref(Tensor::empty({R}, DType::f32)),
          rstd_ref(Tensor::empty({R}, DType::f32)),
          dx(x.to(Device::cuda)),
          dw(w.to(Device::cuda)),
          db(b.to(Device::cuda)),
          y(Tensor::empty({R, C}, dtype_of<T>(), Device::cuda)),
          mean(Tensor::empty({R}, DType::f32, Device::cuda)),
          rstd(Tensor::empty({R}, DType::f32, Device::cuda)) {
      cpu::layernorm_forward<float, T>(cpu::Backend{}, y_ref.data<T>(), mean_ref.data<float>(), rstd_ref.data<float>(),
                                       x.data<T>(), w.data<T>(), b.data<T>(), R, C, 1e-6);
    }
    void launch(int version) {
      kernels<T>[version](cuda::Backend{}, y.data<T>(), mean.data<float>(), rstd.data<float>(), dx.data<T>(),
                          dw.data<T>(), db.data<T>(), R, C, 1e-6);
    }
    // y within T's tolerance, the float statistics within float's (as the GPU test).
    std::vector<ablation::Output> outputs() {
      return {{"y", &y_ref, &y, ablation::tolerance<T>()},
              {"mean", &mean_ref, &mean, ablation::tolerance<float>()},
              {"rstd", &rstd_ref, &rstd, ablation::tolerance<float>()}};
    }
    // Read x, w, b; write y, mean, rstd.
    double work() const { return double(sizeof(T)) * double(2 * R * C + 2 * C) + 4.0 * double(2 * R); }
  };
};

static_assert(std::size(LayerNorm::versions) == std::size(kernels<float>));

}  // namespace

int main(int argc, char** argv) { return ablation::run<LayerNorm>(argc, argv); }
