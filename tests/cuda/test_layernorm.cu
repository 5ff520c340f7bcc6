// Tests the CUDA LayerNorm kernels (layernorm, add_layernorm, swiglu_layernorm) against the CPU reference
// kernels on the same random inputs, for float, bf16 and f16: y within tolerance<T>(), the saved mean and
// rstd within the float tolerance, add_layernorm's sum bit for bit (one float add rounded once on both
// sides). Widths cover the warp path (8, 33, 64, 768, 1024), the block path (1408, 1792, the SwiGLU hidden
// sizes 2048 and 2730 (pairs of 16-bit elements), 4096, 6144, 8192), rows wider than the register cache,
// and misaligned pointers.
// Outputs are poisoned with NaN bytes first, so an element the kernel never writes fails.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "evaclip/core/tensor.hpp"
#include "evaclip/ops/cpu/add_layernorm.hpp"
#include "evaclip/ops/cpu/layernorm.hpp"
#include "evaclip/ops/cpu/swiglu_layernorm.hpp"
#include "evaclip/ops/cuda/add_layernorm.cuh"
#include "evaclip/ops/cuda/layernorm.cuh"
#include "evaclip/ops/cuda/swiglu_layernorm.cuh"
#include "gpu_test_util.cuh"

using namespace evaclip;
namespace gpu = evaclip::cuda;
namespace ref = evaclip::cpu;
using namespace evaclip::gpu_test;

namespace {

// n values N(offset, std²) in dtype dt. A row mean far from 0 (offset) exercises the two-pass variance.
Tensor host_values(std::int64_t n, DType dt, std::uint64_t seed, double std, double offset) {
  std::vector<double> v = host_randn({n}, DType::f64, seed, std).to_vector();
  for (double& x : v) x += offset;
  return Tensor::from<double>({n}, dt, v);
}

enum class Kind { layernorm, add_layernorm, swiglu_layernorm };

const char* name(Kind k) {
  return k == Kind::layernorm ? "layernorm" : k == Kind::add_layernorm ? "add_layernorm" : "swiglu_layernorm";
}

// One comparison of the CUDA kernel with the CPU one on (R, C); `offset` elements in front of every
// row-sized operand misalign its device pointer (the one-element-per-access path).
template <class T>
void check(Kind kind, std::int64_t R, std::int64_t C, bool bias, std::int64_t offset = 0) {
  const DType dt = dtype_of<T>();
  const std::int64_t n = R * C;
  const std::uint64_t seed = std::uint64_t(R * 131 + C) * 4 + std::uint64_t(kind);
  // layernorm: x ~ N(1.5, 4); add_layernorm: stream N(0, 4) + branch N(0, 0.25); swiglu: gate N(0, 4), value N(0, 1).
  const Tensor a_full = host_values(offset + n, dt, seed, 2.0, kind == Kind::layernorm ? 1.5 : 0.0);
  const Tensor b_full = host_values(offset + n, dt, seed + 1, kind == Kind::add_layernorm ? 0.5 : 1.0, 0.0);
  const Tensor w = host_values(C, dt, seed + 2, 0.5, 1.0), b = host_values(C, dt, seed + 3, 0.5, 0.0);
  const Tensor a = a_full.slice(0, offset, offset + n), a2 = b_full.slice(0, offset, offset + n);

  Tensor y_ref = Tensor::empty({n}, dt), sum_ref = Tensor::empty({n}, dt);
  Tensor mean_ref = Tensor::empty({R}, DType::f32), rstd_ref = Tensor::empty({R}, DType::f32);
  const T* bp = bias ? b.data<T>() : nullptr;
  switch (kind) {
    case Kind::layernorm:
      ref::layernorm_forward<float, T>(ref::Backend{}, y_ref.data<T>(), mean_ref.data<float>(), rstd_ref.data<float>(),
                                       a.data<T>(), w.data<T>(), bp, R, C, 1e-6);
      break;
    case Kind::add_layernorm:
      ref::add_layernorm_forward<float, T>(ref::Backend{}, sum_ref.data<T>(), y_ref.data<T>(), mean_ref.data<float>(),
                                           rstd_ref.data<float>(), a.data<T>(), a2.data<T>(), w.data<T>(), bp, R, C,
                                           1e-6);
      break;
    case Kind::swiglu_layernorm:
      ref::swiglu_layernorm_forward<float, T>(ref::Backend{}, y_ref.data<T>(), mean_ref.data<float>(),
                                              rstd_ref.data<float>(), a.data<T>(), a2.data<T>(), w.data<T>(), bp, R, C,
                                              1e-6);
      break;
  }

  const Tensor da_full = a_full.to(Device::cuda), db_full = b_full.to(Device::cuda);
  const Tensor da = da_full.slice(0, offset, offset + n), da2 = db_full.slice(0, offset, offset + n);
  const Tensor dw = w.to(Device::cuda), dbias = b.to(Device::cuda);
  const Tensor y_full = poisoned({offset + n}, dt), sum_full = poisoned({offset + n}, dt);
  const Tensor y = y_full.slice(0, offset, offset + n), sum = sum_full.slice(0, offset, offset + n);
  const Tensor mean = poisoned({R}, DType::f32), rstd = poisoned({R}, DType::f32);
  const T* dbp = bias ? dbias.data<T>() : nullptr;
  switch (kind) {
    case Kind::layernorm:
      gpu::layernorm_forward<float, T>(gpu::Backend{}, y.data<T>(), mean.data<float>(), rstd.data<float>(),
                                       da.data<T>(), dw.data<T>(), dbp, R, C, 1e-6);
      break;
    case Kind::add_layernorm:
      gpu::add_layernorm_forward<float, T>(gpu::Backend{}, sum.data<T>(), y.data<T>(), mean.data<float>(),
                                           rstd.data<float>(), da.data<T>(), da2.data<T>(), dw.data<T>(), dbp, R, C,
                                           1e-6);
      break;
    case Kind::swiglu_layernorm:
      gpu::swiglu_layernorm_forward<float, T>(gpu::Backend{}, y.data<T>(), mean.data<float>(), rstd.data<float>(),
                                              da.data<T>(), da2.data<T>(), dw.data<T>(), dbp, R, C, 1e-6);
      break;
  }
  expect_synced();
  std::ostringstream what;
  what << name(kind) << " R " << R << " C " << C << (bias ? "" : " no bias") << " offset " << offset;
  EXPECT_TRUE(close_to_reference(y_ref, y, tolerance<T>())) << what.str() << ": y";
  EXPECT_TRUE(close_to_reference(mean_ref, mean, tolerance<float>())) << what.str() << ": mean";
  EXPECT_TRUE(close_to_reference(rstd_ref, rstd, tolerance<float>())) << what.str() << ": rstd";
  if (kind == Kind::add_layernorm) EXPECT_TRUE(close_to_reference(sum_ref, sum, 0.0)) << what.str() << ": sum";
}

// 197 * 8 rows (a batch of 8 B/16 images) up to the SwiGLU widths; the widest at 197 rows, which keeps the
// CPU reference's time down and still fills the GPU.
const std::vector<std::int64_t> kWidths = {8, 33, 64, 768, 1024, 1408, 1792, 2048, 2730, 4096, 6144, 8192};

template <class T>
void check_all_widths(Kind kind) {
  for (const std::int64_t C : kWidths)
    for (const std::int64_t R : {std::int64_t(1), std::int64_t(3), C <= 2730 ? std::int64_t(197 * 8) : std::int64_t(197)})
      check<T>(kind, R, C, true);
}

template <class T>
class CudaLayerNorm : public GpuTest {};
TYPED_TEST_SUITE(CudaLayerNorm, StorageTypes);

TYPED_TEST(CudaLayerNorm, LayerNormMatchesCpu) { check_all_widths<TypeParam>(Kind::layernorm); }
TYPED_TEST(CudaLayerNorm, AddLayerNormMatchesCpu) { check_all_widths<TypeParam>(Kind::add_layernorm); }
TYPED_TEST(CudaLayerNorm, SwiGluLayerNormMatchesCpu) { check_all_widths<TypeParam>(Kind::swiglu_layernorm); }

TYPED_TEST(CudaLayerNorm, WithoutBias) {
  for (const Kind k : {Kind::layernorm, Kind::add_layernorm, Kind::swiglu_layernorm})
    for (const std::int64_t C : {std::int64_t(33), std::int64_t(768), std::int64_t(1792), std::int64_t(2730)})
      check<TypeParam>(k, 197, C, false);
}

// Past the register cache (512 threads x 32 floats): 4099 is odd (one element per access, cache 4096) and
// 20000 a multiple of 8 (16-byte chunks, cache 16384): the kernels that re-read the row.
TYPED_TEST(CudaLayerNorm, RowsWiderThanTheRegisterCache) {
  for (const Kind k : {Kind::layernorm, Kind::add_layernorm, Kind::swiglu_layernorm})
    for (const std::int64_t C : {std::int64_t(4099), std::int64_t(20000)}) {
      check<TypeParam>(k, 3, C, true);
      check<TypeParam>(k, 37, C, false);
    }
}

// Widths that allow 16-byte chunks, on pointers one element off (one element per access) and two elements
// off (4-byte pairs for the 16-bit types, single elements for float).
TYPED_TEST(CudaLayerNorm, MisalignedPointersTakeNarrowerAccesses) {
  for (const Kind k : {Kind::layernorm, Kind::add_layernorm, Kind::swiglu_layernorm})
    for (const std::int64_t C : {std::int64_t(64), std::int64_t(768), std::int64_t(2048)})
      for (const std::int64_t offset : {std::int64_t(1), std::int64_t(2)}) check<TypeParam>(k, 197, C, true, offset);
}

}  // namespace
