// sample_order.hpp — defines the loader's seeded orders: derived seeds, per-epoch permutations, and
// ShuffleBuffer (webdataset's sample shuffle as a deterministic function of the stream, replayable).
//
// Everything random in the data pipeline is drawn from an Rng seeded by (seed, epoch, purpose[, index]),
// never from a shared generator, so the batches depend neither on the worker count nor on thread timing,
// and any position can be restored by recomputing rather than by saving generator states.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "evaclip/core/error.hpp"
#include "evaclip/core/random.hpp"

namespace evaclip::data {

// What a derived seed is for; each purpose gets an independent stream.
enum class SeedPurpose : std::uint64_t { row_order = 1, shard_order = 2, shuffle_buffer = 3, augment = 4 };

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline std::uint64_t derive_seed(std::uint64_t seed, std::int64_t epoch, SeedPurpose purpose, std::int64_t index = 0) {
  std::uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ std::uint64_t(epoch));
  h = splitmix64(h ^ std::uint64_t(purpose));
  return splitmix64(h ^ std::uint64_t(index));
}

// A uniform permutation of 0..n-1 (Fisher-Yates); the identity when !shuffle.
inline std::vector<std::int64_t> epoch_permutation(std::int64_t n, bool shuffle, std::uint64_t seed) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t(0));
  if (!shuffle) return p;
  Rng rng(seed);
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(p[std::size_t(i)], p[rng.next_u64() % std::uint64_t(i + 1)]);
  return p;
}

// A shuffle buffer over a stream of `length` items (webdataset's shuffle(): fill to `capacity`, emit a
// random one, refill; drain at the end). It holds only stream indices: which item comes out next is a
// function of the seed and of how many came out before, not of the data, so a reader can replay it to any
// position and then fetch the bytes of just the items left in the buffer. capacity 1 keeps stream order.
class ShuffleBuffer {
 public:
  ShuffleBuffer(std::int64_t length, std::int64_t capacity, std::uint64_t seed)
      : length_(length), capacity_(capacity), rng_(seed) {
    EVACLIP_CHECK(capacity >= 1, "shuffle buffer: capacity ", capacity, " must be at least 1");
  }

  // The stream index of the next item out; -1 once all `length` items are out.
  std::int64_t next() {
    while (std::int64_t(held_.size()) < capacity_ && read_ < length_) held_.push_back(read_++);
    if (held_.empty()) return -1;
    const std::size_t k = capacity_ == 1 ? 0 : rng_.next_u64() % held_.size();
    const std::int64_t out = held_[k];
    held_[k] = held_.back();
    held_.pop_back();
    return out;
  }

  // Stream indices read but not yet out, and how far the stream has been read.
  const std::vector<std::int64_t>& held() const { return held_; }
  std::int64_t read() const { return read_; }
  // The stream index the next call to next() reads up to (exclusive): the reader must have fetched it.
  std::int64_t read_after_next() const {
    return std::min(length_, read_ + std::max<std::int64_t>(0, capacity_ - std::int64_t(held_.size())));
  }

 private:
  std::int64_t length_, capacity_, read_ = 0;
  Rng rng_;
  std::vector<std::int64_t> held_;
};

}  // namespace evaclip::data
