// schedule.hpp — defines warmup_cosine(): the EVA-CLIP learning-rate factor (docs/model-spec.md §5), linear warmup then
// cosine decay to 0.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "evaclip/core/error.hpp"

namespace evaclip::train {

// Factor in [0, 1] multiplying every group's base_lr (and lr_scale) at `step`, counted from 0 as in the
// official scheduler: (step + 1) / warmup_steps during warmup, then ½(1 + cos(π (step − w) / (total − w))).
// Steps past total_steps (where the cosine would rise again) are an error.
inline double warmup_cosine(std::int64_t step, std::int64_t warmup_steps, std::int64_t total_steps) {
  EVACLIP_CHECK(step >= 0 && warmup_steps >= 0, "warmup_cosine: step ", step, " and warmup_steps ", warmup_steps,
                " must be non-negative");
  if (step < warmup_steps) return double(step + 1) / double(warmup_steps);
  EVACLIP_CHECK(step <= total_steps && warmup_steps < total_steps, "warmup_cosine: step ", step,
                " is past the schedule (warmup_steps ", warmup_steps, ", total_steps ", total_steps, ")");
  const double e = double(step - warmup_steps), es = double(total_steps - warmup_steps);
  return 0.5 * (1.0 + std::cos(std::numbers::pi * e / es));
}

}  // namespace evaclip::train
