// Tests bf16/f16: known IEEE bit patterns, ties to even, overflow/underflow, NaN handling, exhaustive
// round trips and decoding, and rounding against independent oracles (nearbyint at the right scale, and
// the compiler's _Float16 where it exists).
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/test_util.hpp"

using namespace evaclip;

namespace {

float from_bits32(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
std::uint32_t bits32(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
std::uint16_t to_bf16(float f) { return bf16(f).bits; }
std::uint16_t to_f16(float f) { return f16(f).bits; }
float p2(int e) { return std::ldexp(1.0f, e); }

bool is_nan16(std::uint16_t h, int mant_bits) {
  const std::uint16_t exp_mask = std::uint16_t(((1u << (15 - mant_bits)) - 1u) << mant_bits);
  return (h & exp_mask) == exp_mask && (h & ((1u << mant_bits) - 1u)) != 0;
}
bool is_quiet_nan16(std::uint16_t h, int mant_bits) { return is_nan16(h, mant_bits) && (h >> (mant_bits - 1) & 1u); }

// Reference rounding by a different method: scale |x| so that one unit in the last place of the target
// format is 1, round with nearbyint (ties to even in the default mode), then encode the result from its
// value. `mant` = stored mantissa bits, `emin` = exponent of the smallest normal, `emax` = largest exponent.
std::uint16_t oracle_round(float x, int mant, int emin, int emax) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const std::uint16_t inf = std::uint16_t(((1u << (15 - mant)) - 1u) << mant);
  const double a = std::fabs(double(x));
  if (std::isinf(a)) return sign | inf;
  if (a == 0) return sign;
  const int e = std::max(std::ilogb(a), emin);
  const double ulp = std::ldexp(1.0, e - mant);
  const double q = std::nearbyint(a / ulp);
  const double r = q * ulp;
  if (r >= std::ldexp(1.0, emax + 1)) return sign | inf;
  if (r < std::ldexp(1.0, emin)) return std::uint16_t(sign | std::uint16_t(q));  // subnormal: q units of 2^(emin-mant)
  const int er = std::ilogb(r);
  const auto m = std::uint16_t(r / std::ldexp(1.0, er - mant) - std::ldexp(1.0, mant));
  return std::uint16_t(sign | std::uint16_t((er - emin + 1) << mant) | m);
}
std::uint16_t oracle_f16(float x) { return oracle_round(x, 10, -14, 15); }
std::uint16_t oracle_bf16(float x) { return oracle_round(x, 7, -126, 127); }

// Floats on and around every rounding decision: each 16-bit value, the midpoint to its successor, and the
// float neighbours of both; plus a strided sweep over all 2^32 float patterns.
std::vector<float> rounding_probe_floats(bool f16_format) {
  std::vector<float> v;
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const std::uint16_t lo = std::uint16_t(h);
    const float a = f16_format ? float(f16::from_bits(lo)) : float(bf16::from_bits(lo));
    if (!std::isfinite(a)) continue;
    const std::uint16_t hi = std::uint16_t(h + 1);
    const float b = f16_format ? float(f16::from_bits(hi)) : float(bf16::from_bits(hi));
    for (float x : {a, std::nextafter(a, INFINITY), std::nextafter(a, -INFINITY)}) v.push_back(x);
    if (std::isfinite(b) && std::signbit(a) == std::signbit(b)) {
      const float mid = float((double(a) + double(b)) / 2);  // exact: 16-bit formats have < 24 mantissa bits
      for (float x : {mid, std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY)}) v.push_back(x);
    }
  }
  for (std::uint64_t u = 0; u < (std::uint64_t(1) << 32); u += 4099) {
    const float x = from_bits32(std::uint32_t(u));
    if (!std::isnan(x)) v.push_back(x);
  }
  // Just above the largest finite value, where rounding overflows.
  for (float x : {65504.0f, 65519.0f, 65519.99f, 65520.0f, 65535.0f, 65536.0f, 1e6f, FLT_MAX})
    for (float s : {1.0f, -1.0f}) v.push_back(s * x);
  return v;
}

}  // namespace

TEST(Bf16, ExactValues) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(to_bf16(0.5f), 0x3f00);
  EXPECT_EQ(to_bf16(0.0f), 0x0000);
  EXPECT_EQ(to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(to_bf16(3.0f), 0x4040);
  EXPECT_EQ(to_bf16(from_bits32(0x7f7f0000u)), 0x7f7f);  // largest finite bf16
  EXPECT_EQ(to_bf16(p2(-126)), 0x0080);                   // smallest normal
  EXPECT_EQ(to_bf16(p2(-133)), 0x0001);                   // smallest subnormal
  EXPECT_EQ(to_bf16(127 * p2(-133)), 0x007f);             // largest subnormal
  EXPECT_EQ(float(bf16::from_bits(0x3f80)), 1.0f);
  EXPECT_EQ(float(bf16::from_bits(0xc000)), -2.0f);
  EXPECT_EQ(float(bf16::from_bits(0x0001)), p2(-133));
  EXPECT_EQ(double(bf16::from_bits(0x3f00)), 0.5);
  EXPECT_EQ(bf16(0.5).bits, 0x3f00);  // the double constructor
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0f + p2(-8)), 0x3f80);              // tie, 0x3f80 even: down
  EXPECT_EQ(to_bf16(1.0f + 3 * p2(-8)), 0x3f82);          // tie, 0x3f81 odd: up
  EXPECT_EQ(to_bf16(1.0f + p2(-8) + p2(-23)), 0x3f81);    // just above the tie: up
  EXPECT_EQ(to_bf16(1.0f + 3 * p2(-8) - p2(-23)), 0x3f81);  // just below the tie: down
  EXPECT_EQ(to_bf16(-(1.0f + 3 * p2(-8))), 0xbf82);       // ties are symmetric in sign
  EXPECT_EQ(to_bf16(2.0f - p2(-8)), 0x4000);              // tie from 0x3fff (odd) carries into the exponent
  EXPECT_EQ(to_bf16(from_bits32(0x3fffffffu)), 0x4000);   // 2 - 2^-23 carries too
  EXPECT_EQ(to_bf16(from_bits32(0x007f8000u)), 0x0080);   // subnormal tie from 0x007f carries into normal
  EXPECT_EQ(to_bf16(p2(-134)), 0x0000);                   // subnormal tie at half the smallest: to zero
  EXPECT_EQ(to_bf16(3 * p2(-134)), 0x0002);               // subnormal tie from 1 (odd): up
  EXPECT_EQ(to_bf16(p2(-149)), 0x0000);                   // float's smallest subnormal underflows
  EXPECT_EQ(to_bf16(-p2(-149)), 0x8000);                  // ... to a signed zero
}

TEST(Bf16, OverflowInfinityAndNaN) {
  EXPECT_EQ(to_bf16(FLT_MAX), 0x7f80);  // above the largest bf16 by more than half an ulp
  EXPECT_EQ(to_bf16(-FLT_MAX), 0xff80);
  EXPECT_EQ(to_bf16(from_bits32(0x7f7f7fffu)), 0x7f7f);  // just below the tie to infinity
  EXPECT_EQ(to_bf16(from_bits32(0x7f7f8000u)), 0x7f80);  // tie from 0x7f7f (odd): rounds to infinity
  EXPECT_EQ(to_bf16(INFINITY), 0x7f80);
  EXPECT_EQ(to_bf16(-INFINITY), 0xff80);
  EXPECT_TRUE(std::isinf(float(bf16::from_bits(0x7f80))));
  EXPECT_TRUE(is_quiet_nan16(to_bf16(std::numeric_limits<float>::quiet_NaN()), 7));
  // Signalling / payload NaNs whose bits would carry into infinity (or wrap) if rounded as numbers.
  for (std::uint32_t u : {0x7f800001u, 0xff800001u, 0x7f80ffffu, 0x7fffffffu, 0xffffffffu, 0x7fbfffffu}) {
    const std::uint16_t h = to_bf16(from_bits32(u));
    EXPECT_TRUE(is_quiet_nan16(h, 7)) << std::hex << u << " -> " << h;
    EXPECT_EQ(h & 0x8000, (u >> 16) & 0x8000) << std::hex << u;  // sign kept
    EXPECT_TRUE(std::isnan(float(bf16::from_bits(h))));
  }
}

TEST(F16, ExactValues) {
  EXPECT_EQ(to_f16(1.0f), 0x3c00);
  EXPECT_EQ(to_f16(-2.0f), 0xc000);
  EXPECT_EQ(to_f16(0.5f), 0x3800);
  EXPECT_EQ(to_f16(0.0f), 0x0000);
  EXPECT_EQ(to_f16(-0.0f), 0x8000);
  EXPECT_EQ(to_f16(65504.0f), 0x7bff);          // largest finite
  EXPECT_EQ(to_f16(-65504.0f), 0xfbff);
  EXPECT_EQ(to_f16(p2(-24)), 0x0001);           // smallest subnormal
  EXPECT_EQ(to_f16(p2(-14)), 0x0400);           // smallest normal
  EXPECT_EQ(to_f16(1023 * p2(-24)), 0x03ff);    // largest subnormal
  EXPECT_EQ(to_f16(p2(-15)), 0x0200);           // a subnormal power of two
  EXPECT_EQ(to_f16(1.0f + p2(-10)), 0x3c01);    // 1 + one ulp
  EXPECT_EQ(to_f16(0.333251953125f), 0x3555);   // nearest f16 to 1/3, exactly
  EXPECT_EQ(f16(0.5).bits, 0x3800);             // the double constructor
  EXPECT_EQ(float(f16::from_bits(0x3c00)), 1.0f);
  EXPECT_EQ(float(f16::from_bits(0x7bff)), 65504.0f);
  EXPECT_EQ(float(f16::from_bits(0x0001)), p2(-24));
  EXPECT_EQ(float(f16::from_bits(0x03ff)), 1023 * p2(-24));
  EXPECT_EQ(float(f16::from_bits(0x8001)), -p2(-24));
  EXPECT_EQ(double(f16::from_bits(0x8000)), 0.0);
  EXPECT_TRUE(std::signbit(float(f16::from_bits(0x8000))));
}

TEST(F16, RoundsToNearestEven) {
  EXPECT_EQ(to_f16(1.0f + p2(-11)), 0x3c00);                 // tie, even: down
  EXPECT_EQ(to_f16(1.0f + 3 * p2(-11)), 0x3c02);             // tie, odd: up
  EXPECT_EQ(to_f16(1.0f + p2(-11) + p2(-23)), 0x3c01);       // just above the tie
  EXPECT_EQ(to_f16(1.0f + 3 * p2(-11) - p2(-23)), 0x3c01);   // just below the tie
  EXPECT_EQ(to_f16(-(1.0f + 3 * p2(-11))), 0xbc02);
  EXPECT_EQ(to_f16(2.0f - p2(-11)), 0x4000);                 // tie from 0x3fff (odd): carries into the exponent
  EXPECT_EQ(to_f16(from_bits32(0x3fffffffu)), 0x4000);
  EXPECT_EQ(to_f16(1023.5f * p2(-24)), 0x0400);              // subnormal tie from 0x3ff (odd): into normal
  EXPECT_EQ(to_f16(p2(-14) - p2(-30)), 0x0400);              // just below the smallest normal
  EXPECT_EQ(to_f16(p2(-25)), 0x0000);                        // subnormal tie at half the smallest: to zero
  EXPECT_EQ(to_f16(p2(-25) + p2(-40)), 0x0001);              // just above it: up
  EXPECT_EQ(to_f16(3 * p2(-25)), 0x0002);                    // tie from 1 (odd): up
  EXPECT_EQ(to_f16(5 * p2(-25)), 0x0002);                    // tie from 2 (even): down
  EXPECT_EQ(to_f16(-3 * p2(-25)), 0x8002);
  EXPECT_EQ(to_f16(1e-10f), 0x0000);                         // underflow
  EXPECT_EQ(to_f16(-1e-10f), 0x8000);                        // ... to a signed zero
  EXPECT_EQ(to_f16(p2(-149)), 0x0000);
  EXPECT_EQ(to_f16(from_bits32(0x7fffffu)), 0x0000);         // largest float subnormal
}

TEST(F16, OverflowInfinityAndNaN) {
  EXPECT_EQ(to_f16(65520.0f), 0x7c00);    // tie from 0x7bff (odd) rounds to infinity
  EXPECT_EQ(to_f16(-65520.0f), 0xfc00);
  EXPECT_EQ(to_f16(65519.99f), 0x7bff);   // just below the tie
  EXPECT_EQ(to_f16(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(to_f16(65536.0f), 0x7c00);
  EXPECT_EQ(to_f16(1e10f), 0x7c00);
  EXPECT_EQ(to_f16(FLT_MAX), 0x7c00);
  EXPECT_EQ(to_f16(INFINITY), 0x7c00);
  EXPECT_EQ(to_f16(-INFINITY), 0xfc00);
  EXPECT_TRUE(std::isinf(float(f16::from_bits(0xfc00))));
  EXPECT_TRUE(is_quiet_nan16(to_f16(std::numeric_limits<float>::quiet_NaN()), 10));
  for (std::uint32_t u : {0x7f800001u, 0xff800001u, 0x7f801fffu, 0x7fffffffu, 0xffffffffu, 0x7fbfffffu}) {
    const std::uint16_t h = to_f16(from_bits32(u));
    EXPECT_TRUE(is_quiet_nan16(h, 10)) << std::hex << u << " -> " << h;
    EXPECT_EQ(h & 0x8000, (u >> 16) & 0x8000) << std::hex << u;
  }
}

// Every 16-bit pattern decodes to the value the IEEE definition gives and encodes back to itself.
TEST(Bf16, ExhaustiveDecodeAndRoundTrip) {
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const auto b = std::uint16_t(h);
    const float f = float(bf16::from_bits(b));
    const std::uint32_t e = (h >> 7) & 0xffu, m = h & 0x7fu;
    const double sign = (h & 0x8000u) ? -1.0 : 1.0;
    if (e == 0xffu) {
      ASSERT_EQ(std::isnan(f), m != 0) << std::hex << h;
      if (m == 0) {
        ASSERT_EQ(f, sign * INFINITY);
      }
    } else {
      const double want = e == 0 ? sign * std::ldexp(double(m), -133) : sign * std::ldexp(double(128 + m), int(e) - 134);
      ASSERT_EQ(double(f), want) << std::hex << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << h;
    }
    const std::uint16_t back = bf16(f).bits;
    if (is_nan16(b, 7)) {
      ASSERT_TRUE(is_quiet_nan16(back, 7)) << std::hex << h << " -> " << back;
      if (h & 0x40u) {  // quiet NaNs keep their payload
        ASSERT_EQ(back, b) << std::hex << h;
      }
    } else {
      ASSERT_EQ(back, b) << std::hex << h;
    }
  }
}

TEST(F16, ExhaustiveDecodeAndRoundTrip) {
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const auto b = std::uint16_t(h);
    const float f = float(f16::from_bits(b));
    const std::uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    const double sign = (h & 0x8000u) ? -1.0 : 1.0;
    if (e == 0x1fu) {
      ASSERT_EQ(std::isnan(f), m != 0) << std::hex << h;
      if (m == 0) {
        ASSERT_EQ(f, sign * INFINITY);
      }
    } else {
      const double want = e == 0 ? sign * std::ldexp(double(m), -24) : sign * std::ldexp(double(1024 + m), int(e) - 25);
      ASSERT_EQ(double(f), want) << std::hex << h;
      ASSERT_EQ(double(f16::from_bits(b)), want) << std::hex << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000u) != 0) << std::hex << h;
    }
    const std::uint16_t back = f16(f).bits;
    if (is_nan16(b, 10)) {
      ASSERT_TRUE(is_quiet_nan16(back, 10)) << std::hex << h << " -> " << back;
      if (h & 0x200u) {
        ASSERT_EQ(back, b) << std::hex << h;
      }
    } else {
      ASSERT_EQ(back, b) << std::hex << h;
    }
  }
}

// The oracle itself must agree with the hand-written constants before it is trusted for the sweep.
TEST(HalfOracle, AgreesWithKnownPatterns) {
  EXPECT_EQ(oracle_f16(1.0f + 3 * p2(-11)), 0x3c02);
  EXPECT_EQ(oracle_f16(65520.0f), 0x7c00);
  EXPECT_EQ(oracle_f16(3 * p2(-25)), 0x0002);
  EXPECT_EQ(oracle_f16(1023.5f * p2(-24)), 0x0400);
  EXPECT_EQ(oracle_f16(-0.0f), 0x8000);
  EXPECT_EQ(oracle_bf16(1.0f + 3 * p2(-8)), 0x3f82);
  EXPECT_EQ(oracle_bf16(FLT_MAX), 0x7f80);
  EXPECT_EQ(oracle_bf16(3 * p2(-134)), 0x0002);
}

TEST(F16, RoundingMatchesNearbyintOracle) {
  std::size_t n = 0;
  for (float x : rounding_probe_floats(true)) {
    ASSERT_EQ(to_f16(x), oracle_f16(x)) << std::hexfloat << x << " bits " << std::hex << bits32(x);
    ++n;
  }
  EXPECT_GT(n, 1'000'000u);
}

TEST(Bf16, RoundingMatchesNearbyintOracle) {
  std::size_t n = 0;
  for (float x : rounding_probe_floats(false)) {
    ASSERT_EQ(to_bf16(x), oracle_bf16(x)) << std::hexfloat << x << " bits " << std::hex << bits32(x);
    ++n;
  }
  EXPECT_GT(n, 1'000'000u);
}

#if defined(__FLT16_MAX__)
// The compiler's own binary16 conversion (libgcc / hardware) as a second, fully independent oracle.
TEST(F16, RoundingMatchesCompilerFloat16) {
  auto native = [](float x) {
    const _Float16 h = static_cast<_Float16>(x);
    std::uint16_t b;
    std::memcpy(&b, &h, sizeof b);
    return b;
  };
  for (float x : rounding_probe_floats(true))
    ASSERT_EQ(to_f16(x), native(x)) << std::hexfloat << x << " bits " << std::hex << bits32(x);
  // Every float in the range where f16 rounding happens, one sign, a dense stride.
  for (std::uint32_t u = 0x32000000u; u < 0x47900000u; u += 61) {
    const float x = from_bits32(u);
    ASSERT_EQ(to_f16(x), native(x)) << std::hex << u;
    ASSERT_EQ(to_f16(-x), native(-x)) << std::hex << u;
  }
}
#endif
