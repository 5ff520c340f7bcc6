// half.hpp — defines bf16 and f16: portable 16-bit float storage types with round-to-nearest-even.
//
// Both are plain 16-bit structs so the same header serves host code, device code and file I/O. Arithmetic
// happens after converting to float; conversion from float rounds to nearest, ties to even, keeps the sign
// of zeros and infinities and maps every NaN to a quiet NaN.
#pragma once

#include <cstdint>
#include <cstring>

#include "evaclip/core/config.hpp"

namespace evaclip {

namespace detail {
EVACLIP_INLINE std::uint32_t float_bits(float f) {
  std::uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
EVACLIP_INLINE float bits_float(std::uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

struct bf16 {
  std::uint16_t bits = 0;

  bf16() = default;
  EVACLIP_INLINE explicit bf16(float f) : bits(from_float(f)) {}
  EVACLIP_INLINE explicit bf16(double d) : bf16(static_cast<float>(d)) {}
  EVACLIP_INLINE explicit operator float() const { return detail::bits_float(std::uint32_t(bits) << 16); }
  EVACLIP_INLINE explicit operator double() const { return static_cast<float>(*this); }
  EVACLIP_INLINE static bf16 from_bits(std::uint16_t b) {
    bf16 h;
    h.bits = b;
    return h;
  }

  // bf16 is the top half of a float: add half an ulp of the kept part (plus one if the kept lsb is odd,
  // which makes ties go to even) and truncate.
  EVACLIP_INLINE static std::uint16_t from_float(float f) {
    std::uint32_t u = detail::float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x0040u);  // NaN: force quiet
    u += 0x7fffu + ((u >> 16) & 1u);
    return std::uint16_t(u >> 16);
  }
};

struct f16 {
  std::uint16_t bits = 0;

  f16() = default;
  EVACLIP_INLINE explicit f16(float f) : bits(from_float(f)) {}
  EVACLIP_INLINE explicit f16(double d) : f16(static_cast<float>(d)) {}
  EVACLIP_INLINE explicit operator float() const { return to_float(bits); }
  EVACLIP_INLINE explicit operator double() const { return to_float(bits); }
  EVACLIP_INLINE static f16 from_bits(std::uint16_t b) {
    f16 h;
    h.bits = b;
    return h;
  }

  // IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals below 2^-14.
  EVACLIP_INLINE static std::uint16_t from_float(float f) {
    const std::uint32_t u = detail::float_bits(f);
    const std::uint16_t sign = std::uint16_t((u >> 16) & 0x8000u);
    const std::uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return std::uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // quiet NaN
    if (a >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // rounds to >= 65520: infinity
    if (a < 0x38800000u) {
      // Result is subnormal (or zero): value = m * 2^-24 with m = round(|f| * 2^24), ties to even.
      if (a < 0x33000000u) return sign;  // below half the smallest subnormal: +-0
      const std::uint32_t e = a >> 23;
      const std::uint32_t mant = (a & 0x7fffffu) | 0x800000u;
      const std::uint32_t shift = 126u - e;  // places to drop so that 2^-24 becomes the unit
      std::uint32_t m = mant >> shift;
      const std::uint32_t rem = mant & ((1u << shift) - 1u);
      const std::uint32_t half = 1u << (shift - 1u);
      if (rem > half || (rem == half && (m & 1u))) ++m;
      return std::uint16_t(sign | m);
    }
    // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
    std::uint32_t r = a - 0x38000000u;  // exponent bias 127 -> 15
    r += 0xfffu + ((r >> 13) & 1u);
    return std::uint16_t(sign | (r >> 13));
  }

  EVACLIP_INLINE static float to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    const std::uint32_t e = (h >> 10) & 0x1fu;
    const std::uint32_t m = h & 0x3ffu;
    if (e == 0x1fu) return detail::bits_float(sign | 0x7f800000u | (m << 13));  // inf / NaN
    if (e == 0) {
      const float v = float(m) * 5.9604644775390625e-8f;  // m * 2^-24, exact
      return sign ? -v : v;
    }
    return detail::bits_float(sign | ((e + 112u) << 23) | (m << 13));
  }
};

}  // namespace evaclip
