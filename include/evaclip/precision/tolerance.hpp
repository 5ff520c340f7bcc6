// tolerance.hpp — defines Tolerance and tolerance_for(DType): the comparison bounds shared by tests and tools.
//
// A value b matches a reference a when |a - b| <= atol + rtol * |a|. The 16-bit bounds are about four
// units in the last place of the type, which covers rounding of inputs, outputs and fp32 accumulation.
#pragma once

#include "evaclip/core/dtype.hpp"

namespace evaclip {

struct Tolerance {
  double atol;
  double rtol;
};

constexpr Tolerance tolerance_for(DType t) {
  switch (t) {
    case DType::f64: return {1e-12, 1e-10};
    case DType::f32: return {1e-6, 1e-5};
    case DType::bf16: return {1e-2, 1e-2};
    case DType::f16: return {1e-3, 1e-2};
    default: return {0.0, 0.0};
  }
}

}  // namespace evaclip
