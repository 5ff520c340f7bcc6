// image_batch.hpp — defines load_image_batch: image files decoded and put through the CLIP eval transform
// (docs/model-spec.md §7) in parallel, stacked into one (N, 3, S, S) float32 batch.
#pragma once

#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/core/tensor.hpp"
#include "evaclip/image/decode.hpp"
#include "evaclip/image/transform.hpp"
#include "evaclip/ops/cpu/parallel.hpp"

namespace evaclip::eval {

// An unreadable or undecodable file is an error naming it (the first such file in `paths` order).
inline Tensor load_image_batch(std::span<const std::string> paths, int size) {
  const auto n = std::int64_t(paths.size());
  Tensor out = Tensor::empty({n, 3, size, size}, DType::f32);
  const std::size_t plane = std::size_t(3) * std::size_t(size) * std::size_t(size);
  std::vector<std::string> errors(paths.size());  // exceptions must not leave the OpenMP region
  cpu::parallel_for(n, [&](std::int64_t i) {
    try {
      const Tensor t = image::eval_transform(image::load_image(paths[std::size_t(i)]), size);
      std::memcpy(out.data<float>() + std::size_t(i) * plane, t.data<float>(), plane * sizeof(float));
    } catch (const std::exception& e) {
      errors[std::size_t(i)] = e.what();
    }
  });
  for (const std::string& e : errors)
    if (!e.empty()) fail(e);
  return out;
}

}  // namespace evaclip::eval
