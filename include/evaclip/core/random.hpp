// random.hpp — defines Rng: a seeded, portable generator (uniform, normal) whose state can be saved.
//
// std::normal_distribution differs between standard libraries, so normals come from Box-Muller on top of
// mt19937_64, whose sequence the standard fixes. Same seed, same numbers on every platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace evaclip {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal by Box-Muller; the second value of each pair is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]: log is finite
    const double r = std::sqrt(-2.0 * std::log(u1)), a = 6.283185307179586 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

  // Text round trip of the full state (for checkpoints that must resume bit-exactly).
  std::string state() const {
    std::ostringstream os;
    os << engine_ << ' ' << has_spare_ << ' ' << std::hexfloat << spare_;
    return os.str();
  }
  void set_state(const std::string& s) {
    std::istringstream is(s);
    is >> engine_ >> has_spare_;
    std::string sp;
    is >> sp;
    spare_ = std::strtod(sp.c_str(), nullptr);
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace evaclip
