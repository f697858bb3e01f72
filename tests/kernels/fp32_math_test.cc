// Fp32Exp, Fp32Exp2 and Fp32Log1p (kernels/common/fp32_math.h) against the C library's long double functions
// (64-bit significand) rounded to fp32, which are the correctly rounded fp32 values except within 2^-63 of a
// midpoint, over millions of random arguments across each function's range and at the edges.
#include "kernels/common/fp32_math.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace layerscope {
namespace {

uint32_t Bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// The correctly rounded fp32 values (up to the 2^-63 caveat above).
float ExpRef(float x) { return static_cast<float>(std::exp(static_cast<long double>(x))); }
float Exp2Ref(float x) { return static_cast<float>(std::exp2(static_cast<long double>(x))); }
float Log1pRef(float x) { return static_cast<float>(std::log1p(static_cast<long double>(x))); }

// The header states a possible exception within 2^-49 of a midpoint, a fraction below 2^-24 of arguments: over
// these samples (fixed seeds) none occurs, so every value must be exactly the correctly rounded one.
constexpr int kSamples = 2'000'000;

TEST(Fp32MathTest, ExpIsCorrectlyRoundedOverItsRange) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-110.0f, 95.0f), near_zero(-1e-3f, 1e-3f);
  for (int i = 0; i < kSamples; ++i) {
    const float x = i % 4 == 0 ? near_zero(rng) : wide(rng);
    ASSERT_EQ(Bits(Fp32Exp(x)), Bits(ExpRef(x))) << std::hexfloat << x;
  }
}

TEST(Fp32MathTest, Exp2IsCorrectlyRoundedOverItsRange) {
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> wide(-160.0f, 135.0f), near_zero(-1e-3f, 1e-3f);
  for (int i = 0; i < kSamples; ++i) {
    const float x = i % 4 == 0 ? near_zero(rng) : wide(rng);
    ASSERT_EQ(Bits(Fp32Exp2(x)), Bits(Exp2Ref(x))) << std::hexfloat << x;
  }
  // Integers are exact powers of two, through the subnormals.
  for (int k = -149; k < 128; ++k) EXPECT_EQ(Fp32Exp2(static_cast<float>(k)), std::ldexp(1.0f, k)) << k;
}

TEST(Fp32MathTest, Log1pIsCorrectlyRoundedAtEveryScale) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-140, 127);
  for (int i = 0; i < kSamples; ++i) {
    float x = std::ldexp(mantissa(rng), exponent(rng));  // positive, 2^-140 … 2^128 (overflow to inf dropped)
    if (std::isinf(x)) continue;
    if (i % 2 == 1) x = -std::min(x, 0.99999994f);  // negative side: (-1, 0)
    ASSERT_EQ(Bits(Fp32Log1p(x)), Bits(Log1pRef(x))) << std::hexfloat << x;
  }
}

TEST(Fp32MathTest, EdgesAndSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(Fp32Exp(0.0f), 1.0f);
  EXPECT_EQ(Fp32Exp(-0.0f), 1.0f);
  EXPECT_EQ(Fp32Exp(inf), inf);
  EXPECT_EQ(Fp32Exp(-inf), 0.0f);
  EXPECT_TRUE(std::isnan(Fp32Exp(nan)));
  EXPECT_TRUE(std::isfinite(Fp32Exp(88.72283f)));  // just below ln(FLT_MAX)
  EXPECT_EQ(Fp32Exp(88.72283f), ExpRef(88.72283f));
  EXPECT_EQ(Fp32Exp(88.72284f), inf);
  EXPECT_EQ(Fp32Exp(-103.27893f), ExpRef(-103.27893f));  // the smallest subnormal
  EXPECT_EQ(Fp32Exp(-104.0f), 0.0f);
  EXPECT_EQ(Fp32Exp2(128.0f), inf);
  EXPECT_EQ(Fp32Exp2(-150.0f), 0.0f);  // 2^-150: a tie between 0 and 2^-149, to even
  EXPECT_EQ(Fp32Exp2(-149.5f), std::ldexp(1.0f, -149));
  EXPECT_EQ(Fp32Log1p(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(Fp32Log1p(-0.0f)));
  EXPECT_EQ(Fp32Log1p(-1.0f), -inf);
  EXPECT_TRUE(std::isnan(Fp32Log1p(-1.5f)));
  EXPECT_TRUE(std::isnan(Fp32Log1p(nan)));
  EXPECT_EQ(Fp32Log1p(inf), inf);
  EXPECT_EQ(Fp32Log1p(FLT_MAX), Log1pRef(FLT_MAX));
  EXPECT_EQ(Fp32Log1p(1e-30f), 1e-30f);
  EXPECT_EQ(Fp32Log1p(std::ldexp(1.0f, -29)), Log1pRef(std::ldexp(1.0f, -29)));  // the two branches meet
  EXPECT_EQ(Fp32Log1p(std::nextafter(std::ldexp(1.0f, -29), 0.0f)),
            Log1pRef(std::nextafter(std::ldexp(1.0f, -29), 0.0f)));
}

// The reduction table: each 2^(j/64) must be the double nearest to the long double value (which carries 11 more
// bits; none of these lies near a double midpoint).
TEST(Fp32MathTest, TheReductionTableHoldsCorrectlyRoundedPowersOfTwo) {
  for (int j = 0; j < 64; ++j) {
    const long double exact = std::exp2(static_cast<long double>(j) / 64);
    EXPECT_EQ(fp32_math_internal::Exp2By64ths(j), static_cast<double>(exact)) << j;
  }
}

// Arguments next to the reduction's switch points (odd multiples of 1/128, where the nearest 64th changes) and to
// its table entries, on both sides of zero.
TEST(Fp32MathTest, ExpAndExp2AreCorrectlyRoundedAtTheReductionBoundaries) {
  for (int k = -12000; k <= 12000; ++k) {
    const float edge2 = static_cast<float>(k) / 128, edge = static_cast<float>(k * 0.0054152123481245727);
    for (float x : {edge2, std::nextafter(edge2, -1e9f), std::nextafter(edge2, 1e9f)}) {
      if (x > -150.0f && x < 127.0f) ASSERT_EQ(Bits(Fp32Exp2(x)), Bits(Exp2Ref(x))) << std::hexfloat << x;
    }
    for (float x : {edge, std::nextafter(edge, -1e9f), std::nextafter(edge, 1e9f)}) {
      if (x > -103.0f && x < 88.0f) ASSERT_EQ(Bits(Fp32Exp(x)), Bits(ExpRef(x))) << std::hexfloat << x;
    }
  }
}

}  // namespace
}  // namespace layerscope
