// The W8A8 epilogue (kernels/w8a8_epilogue/) on the CPU: its reference against an fp64 computation written here
// (every rounding done by hand: fp32(acc), the fp32 product, RNE to an integer, fp16) at every int32 edge and
// scale regime; its tensor op bit for bit against the LibTorch expressions it replaced, at odd sizes and strided
// accumulators; the W8A8 linears through it; and the errors for bad arguments.
#include "kernels/w8a8_epilogue/w8a8_epilogue.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/quant/qops.h"
#include "core/util/error.h"
#include "kernels/w8a8_epilogue/w8a8_epilogue_op.h"
#include "tests/kernels/w8a8_epilogue_case.h"
#include "tests/support/error_of.h"
#include "tests/support/random_values.h"

namespace layerscope {
namespace {

// q rounded to an integer, ties to even, by comparing its fraction with ½ (exact in double for |q| < 2^52; larger
// doubles are integers already).
double RoundHalfEvenByHand(double q) {
  const double below = std::floor(q), fraction = q - below;
  if (fraction > 0.5) return below + 1;
  if (fraction < 0.5) return below;
  return std::fmod(below, 2.0) == 0 ? below : below + 1;
}

// v rounded to nearest, ties to even, in a binary format with `precision` significand bits, normal exponents from
// `min_exponent` and values below 2^max_exponent (beyond: infinity), computed on the grid of v's binade.
double RoundToFormat(double v, int precision, int min_exponent, int max_exponent) {
  if (v == 0 || std::isinf(v)) return v;
  int e = 0;
  std::frexp(v, &e);  // |v| in [2^(e−1), 2^e)
  const double quantum = std::ldexp(1.0, std::max(e - 1, min_exponent) - (precision - 1));
  const double r = RoundHalfEvenByHand(v / quantum) * quantum;
  if (std::fabs(r) >= std::ldexp(1.0, max_exponent)) return std::copysign(std::numeric_limits<double>::infinity(), v);
  return r == 0 ? std::copysign(0.0, v) : r;
}
double ToFp32(double v) { return RoundToFormat(v, 24, -126, 128); }
double ToFp16(double v) { return RoundToFormat(v, 11, -14, 16); }

// fp32(fp32(acc)·scale): the product of two fp32 values is exact in double (48 significand bits at most).
double ExpectedValue(int32_t acc, float scale) { return ToFp32(ToFp32(static_cast<double>(acc)) * scale); }

int ExpectedCode(int32_t acc, float alpha) {
  const double v = ExpectedValue(acc, alpha);
  if (std::isinf(v)) return v > 0 ? 127 : -128;
  return static_cast<int>(std::min(127.0, std::max(-128.0, RoundHalfEvenByHand(v))));
}

float HalfToFloat(uint16_t bits) {
  c10::Half h;
  h.x = bits;
  return static_cast<float>(h);
}

// Equal values and signs (so −0 ≠ +0, ∞ = ∞).
void ExpectSameValue(double got, double want, int64_t index) {
  EXPECT_TRUE(got == want && std::signbit(got) == std::signbit(want))
      << "element " << index << ": got " << got << ", want " << want;
}

// The accumulator [rows, cols] copied into rows `stride` elements apart (the padding holds a marker the
// epilogue must not read into its output).
std::vector<int32_t> Strided(const at::Tensor& acc, int64_t stride) {
  const int64_t rows = acc.size(0), cols = acc.size(1);
  std::vector<int32_t> v(static_cast<size_t>(rows * stride), 0x7eadbeef);
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(&v[r * stride], acc.data_ptr<int32_t>() + r * cols, cols * sizeof(int32_t));
  }
  return v;
}

TEST(W8A8EpilogueCpuTest, MatchesFp64RoundingByHand) {
  const int64_t rows = 37, cols = 53, stride = 61;
  const at::Tensor acc = EpilogueAccumulators(rows, cols, 7);
  const std::vector<int32_t> strided = Strided(acc, stride);
  const int32_t* a = acc.data_ptr<int32_t>();
  int64_t ties = 0, clamped = 0, rounded_acc = 0, infinite = 0, half_subnormal = 0, half_infinite = 0;
  for (float scale : EpilogueScales()) {
    SCOPED_TRACE("scale " + std::to_string(scale));
    std::vector<int8_t> codes(rows * cols);
    std::vector<uint16_t> halves(rows * cols);
    std::vector<float> floats(rows * cols);
    W8A8EpilogueArgs args;
    args.rows = rows, args.cols = cols, args.acc = strided.data(), args.acc_row_stride = stride, args.scale = scale;
    args.y_int8 = codes.data();
    W8A8EpilogueCpu(args, 0, rows);
    args.y_int8 = nullptr, args.y_half = halves.data();
    W8A8EpilogueCpu(args, 0, rows);
    args.y_half = nullptr, args.y_float = floats.data();
    // In two row ranges: rows are independent.
    W8A8EpilogueCpu(args, 0, 5);
    W8A8EpilogueCpu(args, 5, rows);
    for (int64_t i = 0; i < rows * cols; ++i) {
      const double v = ExpectedValue(a[i], scale);
      ASSERT_EQ(codes[i], ExpectedCode(a[i], scale)) << "element " << i << ", acc " << a[i];
      ExpectSameValue(floats[i], v, i);
      ExpectSameValue(HalfToFloat(halves[i]), ToFp16(v), i);
      ties += !std::isinf(v) && std::fabs(v) < 200 && v - std::floor(v) == 0.5;
      clamped += std::fabs(v) >= 128.5;
      rounded_acc += ToFp32(a[i]) != a[i];
      infinite += std::isinf(v);
      half_subnormal += v != 0 && std::fabs(v) < std::ldexp(1.0, -14);
      half_infinite += !std::isinf(v) && std::isinf(ToFp16(v));
    }
  }
  // The data reach every regime the contract names.
  EXPECT_GT(ties, 100);
  EXPECT_GT(clamped, 100);
  EXPECT_GT(rounded_acc, 100);
  EXPECT_GT(infinite, 100);
  EXPECT_GT(half_subnormal, 100);
  EXPECT_GT(half_infinite, 100);
}

// One accumulator through the CPU reference's fp16 output.
float HalfOutput(int32_t acc, float scale) {
  uint16_t bits = 0;
  W8A8EpilogueArgs args;
  args.rows = 1, args.cols = 1, args.acc = &acc, args.acc_row_stride = 1, args.scale = scale, args.y_half = &bits;
  W8A8EpilogueCpu(args, 0, 1);
  return HalfToFloat(bits);
}

TEST(W8A8EpilogueCpuTest, HandWorkedValues) {
  // alpha ½: 3 → 1.5 → 2, 5 → 2.5 → 2, −1 → −0.5 → −0 (code 0), 255 → 127.5 → 128 → 127, −257 → −128.5 → −128.
  const int32_t accs[] = {3, 5, -1, 255, -257};
  const int8_t want[] = {2, 2, 0, 127, -128};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(W8A8Requantize(accs[i], 0.5f), want[i]) << accs[i];
  // fp32(acc): 2^24 + 1 ties down to 2^24, 2^24 + 3 up to 2^24 + 4; INT32_MIN is −2^31 exactly (code −128).
  EXPECT_EQ(W8A8Dequantize((1 << 24) + 1, 1.0f), 16777216.0f);
  EXPECT_EQ(W8A8Dequantize((1 << 24) + 3, 0.25f), 4194305.0f);
  EXPECT_EQ(W8A8Dequantize(std::numeric_limits<int32_t>::min(), 1.0f), -2147483648.0f);
  EXPECT_EQ(W8A8Requantize(std::numeric_limits<int32_t>::min(), 1.0f), -128);
  // The product of fp32(acc), not of acc: fp32(2^24 + 1)·5·2^-25 = 2.5 → 2 (the exact product, a hair above 2.5,
  // would give 3); fp32(2^24 + 1)·2049·2^-25 = 1024.5, an fp16 tie → 1024 (the exact product would give 1025).
  EXPECT_EQ(W8A8Requantize((1 << 24) + 1, std::ldexp(5.0f, -25)), 2);
  EXPECT_EQ(W8A8Dequantize((1 << 24) + 1, std::ldexp(2049.0f, -25)), 1024.5f);
  EXPECT_EQ(HalfOutput((1 << 24) + 1, std::ldexp(2049.0f, -25)), 1024.0f);
  // fp16 spacing in [2^14, 2^15) is 16: 16388 → 16384; the ties 16392 → 16384 and 16408 → 16416 (even);
  // 65519 → 65504 (the largest fp16), 65520 → ∞; in units of the smallest subnormal 2^-24: −0.75 → −1, the ties
  // 0.5 → +0 and 1.5 → 2.
  EXPECT_EQ(HalfOutput(16388, 1.0f), 16384.0f);
  EXPECT_EQ(HalfOutput(16392, 1.0f), 16384.0f);
  EXPECT_EQ(HalfOutput(16408, 1.0f), 16416.0f);
  EXPECT_EQ(HalfOutput(65519, 1.0f), 65504.0f);
  EXPECT_EQ(HalfOutput(65520, 1.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfOutput(-3, std::ldexp(1.0f, -26)), -std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfOutput(1, std::ldexp(1.0f, -25)), 0.0f);
  EXPECT_FALSE(std::signbit(HalfOutput(1, std::ldexp(1.0f, -25))));
  EXPECT_EQ(HalfOutput(3, std::ldexp(1.0f, -25)), std::ldexp(1.0f, -23));
}

// The expressions the epilogue replaced (core/quant/qops.cc before it): LibTorch's elementwise passes.
at::Tensor LibTorchRequantize(const at::Tensor& acc, float alpha) {
  const at::Tensor v = acc.to(at::kFloat);
  return at::round(v * at::full({}, alpha, v.options())).clamp(-128, 127).to(at::kChar);
}
at::Tensor LibTorchDequantize(const at::Tensor& acc, float scale, at::ScalarType out) {
  const at::Tensor v = acc.to(at::kFloat);
  return (v * at::full({}, scale, v.options())).to(out);
}

void ExpectSameBits(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.scalar_type(), want.scalar_type()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  ASSERT_TRUE(got.is_contiguous()) << what;
  const at::Tensor w = want.contiguous();
  EXPECT_EQ(std::memcmp(got.data_ptr(), w.data_ptr(), got.numel() * got.element_size()), 0) << what;
}

TEST(W8A8EpilogueOpTest, BitIdenticalToTheLibTorchExpressions) {
  // Odd sizes (LibTorch's vectorized loops and their tails), one row, one column, and the mamba-130m x_proj width.
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{37, 53}, {1, 1}, {1, 300}, {300, 1}, {129, 80}, {5, 3072}};
  for (const auto& [rows, cols] : shapes) {
    const at::Tensor acc = EpilogueAccumulators(rows, cols, static_cast<unsigned>(rows * 1000 + cols));
    // The same values as a narrowed view of a wider matrix (row stride cols + 11, as _int_mm's padded result),
    // and as a transposed view (columns not contiguous: copied first).
    const at::Tensor wide = at::full({rows + 2, cols + 11}, 0x7eadbeef, at::kInt);
    wide.narrow(0, 0, rows).narrow(1, 0, cols).copy_(acc);
    const at::Tensor narrowed = wide.narrow(0, 0, rows).narrow(1, 0, cols);
    const at::Tensor transposed = acc.t().contiguous().t();
    for (float scale : EpilogueScales()) {
      const std::string what = std::to_string(rows) + "x" + std::to_string(cols) + " scale " + std::to_string(scale);
      const at::Tensor codes = LibTorchRequantize(acc, scale);
      for (const at::Tensor& a : {acc, narrowed, transposed}) {
        ExpectSameBits(W8A8Epilogue(a, scale, at::kChar), codes, what + " int8");
        ExpectSameBits(W8A8Epilogue(a, scale, at::kHalf), LibTorchDequantize(acc, scale, at::kHalf), what + " fp16");
        ExpectSameBits(W8A8Epilogue(a, scale, at::kFloat), LibTorchDequantize(acc, scale, at::kFloat), what + " fp32");
      }
    }
  }
}

TEST(W8A8EpilogueOpTest, EmptyAccumulators) {
  for (const auto& shape : {std::vector<int64_t>{0, 5}, std::vector<int64_t>{4, 0}}) {
    const at::Tensor y = W8A8Epilogue(at::zeros(shape, at::kInt), 0.5f, at::kHalf);
    EXPECT_EQ(y.sizes(), at::IntArrayRef(shape));
    EXPECT_EQ(y.scalar_type(), at::kHalf);
  }
}

at::Tensor Int8Tensor(const std::vector<int64_t>& shape, unsigned seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<int8_t> codes = NonZeroInt8(static_cast<size_t>(n), seed);
  return at::from_blob(codes.data(), shape, at::kChar).clone();
}

TEST(W8A8LinearTest, BitIdenticalToTheLibTorchExpressionsOnTheAccumulator) {
  // [3, 5, 37] x [29, 37]^T and a 2-D [17, 768] x [80, 768]^T; extreme codes so that acc passes 2^24 (in = 1537).
  struct Case {
    at::Tensor x, w;
  };
  const std::vector<Case> cases = {{Int8Tensor({3, 5, 37}, 1), Int8Tensor({29, 37}, 2)},
                                   {Int8Tensor({17, 768}, 3), Int8Tensor({80, 768}, 4)},
                                   {at::full({2, 1537}, -128, at::kChar), at::full({3, 1537}, -127, at::kChar)}};
  for (const Case& c : cases) {
    const at::Tensor acc = Int8MatmulInt32(c.x, c.w);
    const at::Tensor rows = acc.reshape({-1, acc.size(-1)});
    for (double scale : {0.00313, 0.5, 3.1e-5}) {
      const float s = static_cast<float>(scale);
      EXPECT_TRUE(at::equal(W8A8LinearInt8(c.x, c.w, scale), LibTorchRequantize(rows, s).view(acc.sizes())));
      for (at::ScalarType out : {at::kHalf, at::kFloat}) {
        const at::Tensor got = W8A8LinearFloat(c.x, c.w, scale, out);
        ASSERT_EQ(got.sizes(), acc.sizes());
        ExpectSameBits(got, LibTorchDequantize(acc, s, out), "float out");
      }
    }
  }
}

TEST(W8A8EpilogueOpTest, BadArgumentsAreNamed) {
  const at::Tensor acc = at::ones({2, 3}, at::kInt);
  auto expect_named = [](auto f, const std::string& name) {
    ErrorKind kind = ErrorKind::kInternal;
    const std::string message = ErrorOf(f, &kind);
    EXPECT_EQ(kind, ErrorKind::kInvalidArgument) << message;
    EXPECT_NE(message.find(name), std::string::npos) << message;
  };
  expect_named([&] { W8A8Epilogue(acc.to(at::kFloat), 1.0f, at::kChar); }, "acc");
  expect_named([&] { W8A8Epilogue(acc.view({-1}), 1.0f, at::kChar); }, "acc");
  expect_named([&] { W8A8Epilogue(at::Tensor(), 1.0f, at::kChar); }, "acc");
  expect_named([&] { W8A8Epilogue(acc, 1.0f, at::kInt); }, "out");
  for (float scale : {0.0f, -1.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    expect_named([&] { W8A8Epilogue(acc, scale, at::kFloat); }, "scale");
  }
  const at::Tensor x = at::ones({2, 5}, at::kChar), w = at::ones({4, 5}, at::kChar);
  expect_named([&] { W8A8LinearInt8(x, w, 0.0); }, "alpha");
  expect_named([&] { W8A8LinearInt8(x, w, std::nan("")); }, "alpha");
  expect_named([&] { W8A8LinearFloat(x, w, 1e300, at::kHalf); }, "scale");
  expect_named([&] { W8A8LinearFloat(x, w, 1.0, at::kChar); }, "out");
}

}  // namespace
}  // namespace layerscope
