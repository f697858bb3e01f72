// The fused Hadamard + int8 quantization (HadamardQuantInt8, kernels/hadamard/) on the CPU: bit for bit the
// unfused LibTorch path it replaces (ApplyHadamard then QuantizeInt8 / QuantizeInt8WrappingReference) at every base
// block family and odd row counts; against an fp64 dense-matrix reference up to a stated bound; its overflow counts;
// and a hand-worked example with ties, NaN and infinity.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/quant/hadamard.h"
#include "core/quant/qops.h"
#include "core/quant/rounding.h"
#include "tests/kernels/hadamard_case.h"
#include "tests/support/error_of.h"

namespace layerscope {
namespace {

constexpr auto kRhaz = Rounding::kHalfAwayFromZero;

// Every family 2^k, 12·2^k, 20·2^k, 28·2^k, small and Mamba-sized (768 = 12·64 is mamba-130m's d_model, 1536 its
// d_inner).
const std::vector<int64_t> kSizes = {1, 2, 4, 64, 1024, 12, 24, 768, 1536, 20, 40, 2560, 28, 56, 3584};

int64_t OddRows(int64_t d) { return d <= 64 ? 13 : 7; }

int64_t Fused(const at::Tensor& y, Int8Overflow overflow, at::Tensor* codes) {
  at::Tensor count;
  *codes = HadamardQuantInt8(y, kHadamardTestScale, overflow, &count);
  return count.item<int64_t>();
}

// The unfused path's wrapping (the reference of the fused op) against int64 arithmetic by hand.
TEST(HadamardQuantTest, TheUnfusedReferenceWrapsTheLowByteAndCounts) {
  std::vector<float> x = {127.5f, 128.0f, 200.0f, -129.0f, -200.0f, 255.6f, 300.0f,
                          1e10f,  -1e10f, 5.0f,   -5.0f,   127.4f,  -128.4f};
  const at::Tensor t = at::from_blob(x.data(), {static_cast<int64_t>(x.size())}, at::kFloat).clone();
  int64_t wrapped = -1;
  const at::Tensor got = QuantizeInt8WrappingReference(t, 1.0, kRhaz, &wrapped);
  int64_t want_wrapped = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    // int32 saturation, then two's complement low byte, in int64 arithmetic.
    int64_t r = static_cast<int64_t>(std::round(static_cast<double>(x[i])));
    r = std::min<int64_t>(std::max<int64_t>(r, std::numeric_limits<int32_t>::min()), 2147483520);
    int64_t low = ((r % 256) + 256) % 256;
    if (low >= 128) low -= 256;
    EXPECT_EQ(got[static_cast<int64_t>(i)].item<int8_t>(), low) << "x=" << x[i];
    want_wrapped += (r < -128 || r > 127) ? 1 : 0;
  }
  EXPECT_EQ(wrapped, want_wrapped);
  EXPECT_EQ(wrapped, 9);
  EXPECT_EQ(got[0].item<int8_t>(), -128);  // 127.5 rounds away to 128: the sign flip of MODES.md §2.3 step 6
  // In range (|x| ≤ 8, s = 0.1), wrapping and clamping agree; the count may be omitted.
  const at::Tensor in_range = HadamardRows(3, 17, 3, /*spikes=*/false);
  EXPECT_TRUE(at::equal(QuantizeInt8WrappingReference(in_range, 0.1, Rounding::kHalfToEven, nullptr),
                        QuantizeInt8(in_range, 0.1, Rounding::kHalfToEven)));
}

TEST(HadamardQuantTest, BitIdenticalToTheUnfusedPath) {
  for (int64_t d : kSizes) {
    SCOPED_TRACE("d=" + std::to_string(d));
    const at::Tensor y = HadamardRows(OddRows(d), d, static_cast<unsigned>(d));
    const at::Tensor rotated = ApplyHadamard(y);
    int64_t wrapped = 0;
    const at::Tensor want_wrap = QuantizeInt8WrappingReference(rotated, kHadamardTestScale, kRhaz, &wrapped);
    const at::Tensor want_saturate = QuantizeInt8(rotated, kHadamardTestScale, kRhaz);
    at::Tensor got;
    EXPECT_EQ(Fused(y, Int8Overflow::kSaturate, &got), wrapped);
    EXPECT_TRUE(at::equal(got, want_saturate));
    EXPECT_EQ(Fused(y, Int8Overflow::kWrap, &got), wrapped);
    EXPECT_TRUE(at::equal(got, want_wrap));
    // The data reach every regime: in range, overflowing, and past 2^31 (where wrapping saturates first).
    EXPECT_GT(wrapped, 0);
    EXPECT_LT(wrapped, y.numel());
  }
}

TEST(HadamardQuantTest, HalfInputAndLeadingDimensionsMatchTheUnfusedPath) {
  const at::Tensor y = HadamardRows(15, 1536, 5).view({3, 5, 1536});
  const at::Tensor y16 = y.clamp(-60000, 60000).to(at::kHalf);
  at::Tensor got;
  Fused(y16, Int8Overflow::kWrap, &got);
  EXPECT_EQ(got.sizes(), y.sizes());
  EXPECT_TRUE(at::equal(got, QuantizeInt8WrappingReference(ApplyHadamard(y16), kHadamardTestScale, kRhaz, nullptr)));
  Fused(y, Int8Overflow::kSaturate, &got);
  EXPECT_TRUE(at::equal(got, QuantizeInt8(ApplyHadamard(y), kHadamardTestScale, kRhaz)));
}

// Against y·Ĥ in fp64 (the dense matrix), divided and RHAZ-rounded in fp64. The fp32 path rounds each of its
// log2(M) butterfly and b − 1 block additions (each error ≤ 2^-24 of a partial sum, itself ≤ Σ_i|y_i|), fp32(1/√d),
// the multiply by it and the division by s: |q_fp32 − q_exact| ≤ (log2 M + b + 2)·2^-24·(Σ_i|y_i|/√d)/s to first
// order; one more 2^-24 term covers the second-order ones with a wide margin. A code may differ only where the
// exact quotient lies within that bound of a rounding boundary k + ½; elsewhere it must be equal.
TEST(HadamardQuantTest, MatchesAnFp64ReferenceAwayFromRoundingBoundaries) {
  for (int64_t d : kSizes) {
    SCOPED_TRACE("d=" + std::to_string(d));
    const int64_t rows = OddRows(d), b = HadamardBaseBlock(d), m = d / b;
    const at::Tensor y = HadamardRows(rows, d, static_cast<unsigned>(d) + 100, /*spikes=*/false);
    const at::Tensor exact = at::matmul(y.to(at::kDouble), HadamardMatrix(d, at::kDouble));
    const at::Tensor l1 = y.to(at::kDouble).abs().sum(1);
    at::Tensor saturate, wrap;
    const int64_t count = Fused(y, Int8Overflow::kSaturate, &saturate);
    Fused(y, Int8Overflow::kWrap, &wrap);
    auto e = exact.accessor<double, 2>();
    auto s8 = saturate.accessor<int8_t, 2>();
    auto w8 = wrap.accessor<int8_t, 2>();
    int64_t near_boundary = 0, sure_overflows = 0, near_range_edge = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const double bound = (std::log2(static_cast<double>(m)) + b + 3) * std::ldexp(1.0, -24) *
                           (l1[r].item<double>() / std::sqrt(static_cast<double>(d))) / kHadamardTestScale;
      for (int64_t i = 0; i < d; ++i) {
        const double q = e[r][i] / kHadamardTestScale;
        const double rounded = std::round(q);  // RHAZ
        const bool overflow = rounded < -128 || rounded > 127;
        // The count's own boundaries: q = 127.5 and q = −128.5.
        if (std::fabs(q - 127.5) <= bound || std::fabs(q + 128.5) <= bound) {
          near_range_edge += 1;
        } else {
          sure_overflows += overflow ? 1 : 0;
        }
        if (std::fabs(std::fabs(q - std::trunc(q)) - 0.5) <= bound) {
          near_boundary += 1;
          continue;
        }
        const double clamped = std::min(127.0, std::max(-128.0, rounded));
        ASSERT_EQ(s8[r][i], static_cast<int>(clamped)) << "row " << r << " element " << i << " q=" << q;
        const int64_t low_byte = ((static_cast<int64_t>(rounded) & 255) ^ 128) - 128;
        ASSERT_EQ(w8[r][i], low_byte) << "row " << r << " element " << i << " q=" << q;
      }
    }
    // The count: every sure overflow, and at most the undecided ones at the range's edges besides.
    EXPECT_GE(count, sure_overflows);
    EXPECT_LE(count, sure_overflows + near_range_edge);
    // The exemption is narrow: a small fraction of the codes.
    EXPECT_LT(near_boundary, rows * d / 20 + 1);
  }
}

// d = 4 (Ĥ_4 = S_4 / 2, exact in fp32), s = 1, by hand:
//   (300, 2, 2, 2)  -> (153, 149, 149, 149): all four overflow; saturate 127, wrap 153 − 256 = −103, −107.
//   (1, 2, 3, 5)    -> (5.5, −1.5, −2.5, 0.5): ties, away from zero: 6, −2, −3, 1.
//   (-300, -1, 1, 3) -> (−148.5, −150.5, −152.5, −148.5) -> RHAZ −149, −151, −153, −149: saturate −128;
//                       wrap 107, 105, 103, 107.
//   (inf, 1, 1, 1)  -> all +inf: overflows; saturate 127; wrap: clamped to 2147483520 = 0x7fffff80, low byte −128.
//   (NaN, 1, 1, 1)  -> all NaN: code 0, not counted.
TEST(HadamardQuantTest, HandExampleWithTiesInfinityAndNan) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> y = {300, 2, 2, 2, 1, 2, 3, 5, -300, -1, 1, 3, inf, 1, 1, 1, nan, 1, 1, 1};
  const at::Tensor t = at::from_blob(const_cast<float*>(y.data()), {5, 4}, at::kFloat).clone();
  const std::vector<int8_t> saturate = {127,  127,  127, 127, 6,   -2,  -3, 1, -128, -128,
                                        -128, -128, 127, 127, 127, 127, 0,  0, 0,    0};
  const std::vector<int8_t> wrap = {-103, -107, -107, -107, 6,    -2,   -3, 1, 107, 105,
                                    103,  107,  -128, -128, -128, -128, 0,  0, 0,   0};
  for (const auto& [overflow, want] :
       {std::make_pair(Int8Overflow::kSaturate, saturate), std::make_pair(Int8Overflow::kWrap, wrap)}) {
    at::Tensor count;
    const at::Tensor got = HadamardQuantInt8(t, 1.0, overflow, &count);
    EXPECT_EQ(std::vector<int8_t>(got.data_ptr<int8_t>(), got.data_ptr<int8_t>() + got.numel()), want);
    EXPECT_EQ(count.item<int64_t>(), 12);
  }
}

TEST(HadamardQuantTest, CountsAccumulateIntoTheGivenTensorAndNullSkipsThem) {
  const at::Tensor y = HadamardRows(9, 768, 3);
  at::Tensor count;
  const at::Tensor codes = HadamardQuantInt8(y, kHadamardTestScale, Int8Overflow::kSaturate, &count);
  const int64_t once = count.item<int64_t>();
  ASSERT_GT(once, 0);
  HadamardQuantInt8(y, kHadamardTestScale, Int8Overflow::kWrap, &count);
  EXPECT_EQ(count.item<int64_t>(), 2 * once);
  EXPECT_TRUE(at::equal(HadamardQuantInt8(y, kHadamardTestScale, Int8Overflow::kSaturate, nullptr), codes));
}

TEST(HadamardQuantTest, BadArgumentsNameTheArgument) {
  const at::Tensor y = HadamardRows(3, 24, 1);
  auto message = [](auto f) {
    ErrorKind kind = ErrorKind::kInternal;
    const std::string what = ErrorOf(f, &kind);
    EXPECT_EQ(kind, ErrorKind::kInvalidArgument) << what;
    return what;
  };
  EXPECT_NE(message([&] { HadamardQuantInt8(y.to(at::kInt), 0.1, Int8Overflow::kSaturate, nullptr); }).find("y"),
            std::string::npos);
  EXPECT_NE(message([&] { HadamardQuantInt8(y.to(at::kDouble), 0.1, Int8Overflow::kSaturate, nullptr); }).find("y"),
            std::string::npos);
  const std::string size = message([] { HadamardQuantInt8(at::ones({2, 36}), 0.1, Int8Overflow::kWrap, nullptr); });
  EXPECT_NE(size.find("y"), std::string::npos) << size;
  EXPECT_NE(size.find("36"), std::string::npos) << size;
  for (double s : {0.0, -1.0, std::nan(""), 1e300}) {
    EXPECT_NE(message([&] { HadamardQuantInt8(y, s, Int8Overflow::kSaturate, nullptr); }).find("s_oin"),
              std::string::npos);
  }
  at::Tensor wrong = at::zeros({}, at::kInt);
  EXPECT_NE(message([&] { HadamardQuantInt8(y, 0.1, Int8Overflow::kSaturate, &wrong); }).find("overflows"),
            std::string::npos);
  wrong = at::zeros({1}, at::kLong);
  EXPECT_NE(message([&] { HadamardQuantInt8(y, 0.1, Int8Overflow::kSaturate, &wrong); }).find("overflows"),
            std::string::npos);
}

}  // namespace
}  // namespace layerscope
