// optimizer_fixture.hpp — defines the parameters of tests/data/train/optimizer.safetensors and the group each
// belongs to, as tools/make_optimizer_fixtures.py writes them (shared by the AdamW and LAMB tests).
#pragma once

#include <string>
#include <vector>

namespace evaclip::test {
inline const std::vector<std::string> kOptimizerParams = {"w", "big", "zero", "bias", "scale"};
inline constexpr int kOptimizerGroupOf[] = {0, 0, 0, 1, 1};
}  // namespace evaclip::test
