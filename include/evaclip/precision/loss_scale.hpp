// loss_scale.hpp — defines the loss-scaling strategies NoLossScale, StaticLossScale, DynamicLossScale.
//
// fp16 gradients underflow unless the loss is multiplied by a large factor before backward and the
// gradients divided by it afterwards. Every strategy answers the same two questions: what to multiply
// the loss by (`scale()`), and, given whether the gradients of this step contain inf/NaN, whether to
// apply the step (`update(found_inf)`), adjusting the scale on the way.
#pragma once

#include <algorithm>
#include <cstdint>

namespace evaclip {

struct NoLossScale {
  double scale() const { return 1.0; }
  bool update(bool found_inf) { return !found_inf; }  // a non-finite gradient still skips the step
};

struct StaticLossScale {
  double value = 128.0;
  double scale() const { return value; }
  bool update(bool found_inf) { return !found_inf; }
};

// DeepSpeed/apex-style dynamic scaling (the EVA-CLIP fp16 recipe: initial 2^16, window 1000,
// hysteresis 2, minimum 1). An overflow skips the step; the scale shrinks by `backoff` once `hysteresis`
// overflows have been seen since the last growth. After `growth_interval` consecutive good steps the scale
// grows by `growth` and the hysteresis budget is restored.
struct DynamicLossScale {
  double value = 65536.0;
  std::int64_t growth_interval = 1000;
  double growth = 2.0;
  double backoff = 0.5;
  int hysteresis = 2;
  double min_scale = 1.0;

  std::int64_t good_steps = 0;     // consecutive steps without overflow
  int overflows_since_growth = 0;  // counted against `hysteresis`

  double scale() const { return value; }
  bool update(bool found_inf) {
    if (found_inf) {
      good_steps = 0;
      if (++overflows_since_growth >= hysteresis) value = std::max(min_scale, value * backoff);
      return false;
    }
    if (++good_steps == growth_interval) {
      value *= growth;
      good_steps = 0;
      overflows_since_growth = 0;
    }
    return true;
  }
};

}  // namespace evaclip
