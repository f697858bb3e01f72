// The quantization primitives (core/quant: rounding, Hadamard, observers, weight quantization, quantized ops and
// the scan variants) against independent references written here in plain fp64/int loops (or, where an op's
// contract is a stated fp32 operation order, that order written out again here), at odd sizes, on random data that
// is never zero. ../shared/docs/MODES.md §2 and §3 are the specification.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/quant/hadamard.h"
#include "core/quant/observers.h"
#include "core/quant/qops.h"
#include "core/quant/rounding.h"
#include "core/quant/weight_quant.h"
#include "core/util/error.h"
#include "kernels/common/fp32_math.h"
#include "kernels/selective_scan/quant_scan.h"
#include "kernels/selective_scan/quant_scan_op.h"
#include "tests/core/quant/random_scan.h"

namespace layerscope {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Helpers

at::Tensor FromVector(const std::vector<float>& v, at::IntArrayRef shape) {
  return at::from_blob(const_cast<float*>(v.data()), shape, at::kFloat).clone();
}

// int8 codes in [lo, hi] without 0.
at::Tensor RandomInt8(at::IntArrayRef shape, int lo, int hi, unsigned seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  at::Tensor t = at::empty(shape, at::kChar);
  int8_t* p = t.data_ptr<int8_t>();
  for (int64_t i = 0; i < n; ++i) {
    int v = d(rng);
    p[i] = static_cast<int8_t>(v == 0 ? hi : v);
  }
  return t;
}

template <typename T>
std::vector<T> ToVector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

float HalfRound(float v) { return static_cast<float>(c10::Half(v)); }

int RneInt(double v) { return static_cast<int>(std::nearbyint(v)); }
int RhazInt(double v) { return static_cast<int>(std::round(v)); }
int Clamp8(int v) { return std::min(127, std::max(-128, v)); }

template <typename F>
void ExpectInvalidArgumentNaming(F f, const std::string& name) {
  try {
    f();
    FAIL() << "expected Error naming " << name;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rounding (MODES.md §2: RNE and RHAZ, clamp to [-128, 127])

TEST(RoundingTest, TiesGoToEvenOrAwayFromZero) {
  const std::vector<float> x = {-2.5f,        -1.5f,  -0.5f,   0.5f,   1.5f, 2.5f, 0.49999997f,
                                -0.49999997f, 127.5f, -127.5f, 128.5f, 2.4f, -2.6f};
  const std::vector<float> rne = {-2, -2, -0.0f, 0, 2, 2, 0, 0, 128, -128, 128, 2, -3};
  const std::vector<float> rhaz = {-3, -2, -1, 1, 2, 3, 0, 0, 128, -128, 129, 2, -3};
  const at::Tensor t = FromVector(x, {static_cast<int64_t>(x.size())});
  EXPECT_EQ(ToVector<float>(RoundTo(t, Rounding::kHalfToEven)), rne);
  EXPECT_EQ(ToVector<float>(RoundTo(t, Rounding::kHalfAwayFromZero)), rhaz);
  // fp64 input keeps its dtype.
  EXPECT_EQ(RoundTo(t.to(at::kDouble), Rounding::kHalfAwayFromZero).scalar_type(), at::kDouble);
}

TEST(RoundingTest, QuantizeClampsAfterRounding) {
  // scale 1: the division is exact, so only rounding and clamping act.
  const std::vector<float> x = {-128.5f, -127.5f, 127.5f, 128.5f, 0.5f, -0.5f, 1.5f, 2.5f, 1000.0f, -1000.0f, 126.5f};
  const std::vector<int8_t> rne = {-128, -128, 127, 127, 0, 0, 2, 2, 127, -128, 126};
  const std::vector<int8_t> rhaz = {-128, -128, 127, 127, 1, -1, 2, 3, 127, -128, 127};
  const at::Tensor t = FromVector(x, {static_cast<int64_t>(x.size())});
  const at::Tensor q = QuantizeInt8(t, 1.0, Rounding::kHalfToEven);
  EXPECT_EQ(q.scalar_type(), at::kChar);
  EXPECT_EQ(ToVector<int8_t>(q), rne);
  EXPECT_EQ(ToVector<int8_t>(QuantizeInt8(t, 1.0, Rounding::kHalfAwayFromZero)), rhaz);
}

TEST(RoundingTest, QuantizeDividesInFp32) {
  const float s = 0.0123f;
  // Find values whose quotient rounds differently under a true fp32 division and under a multiplication by the
  // fp32 reciprocal: the op must follow the division (its stated contract), and the test must be able to tell.
  std::vector<float> x;
  const float inv = 1.0f / s;
  for (int k = -127; k <= 126; ++k) {
    float v = (static_cast<float>(k) + 0.5f) * s;
    for (int step = 0; step < 8; ++step) {
      const float div = v / s, mul = v * inv;
      if (RneInt(div) != RneInt(mul)) x.push_back(v);
      v = std::nextafter(v, 1e9f);
    }
  }
  ASSERT_FALSE(x.empty()) << "no value tells division from reciprocal multiplication";
  const at::Tensor random = Uniform({1001}, -2.0f, 2.0f, 7);
  for (float v : ToVector<float>(random)) x.push_back(v);
  const at::Tensor t = FromVector(x, {static_cast<int64_t>(x.size())});
  for (Rounding r : {Rounding::kHalfToEven, Rounding::kHalfAwayFromZero}) {
    const std::vector<int8_t> got = ToVector<int8_t>(QuantizeInt8(t, s, r));
    for (size_t i = 0; i < x.size(); ++i) {
      const float quotient = x[i] / s;  // fp32 / fp32
      const int want = Clamp8(r == Rounding::kHalfToEven ? RneInt(quotient) : RhazInt(quotient));
      ASSERT_EQ(got[i], want) << RoundingName(r) << " x=" << x[i];
    }
  }
}

TEST(RoundingTest, DequantizeIsOneFp32Multiply) {
  const at::Tensor q = RandomInt8({7, 13}, -128, 127, 5);
  const double s = 0.0377;
  const at::Tensor y = Dequantize(q, s);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  const std::vector<int8_t> qv = ToVector<int8_t>(q);
  const std::vector<float> yv = ToVector<float>(y);
  for (size_t i = 0; i < qv.size(); ++i) EXPECT_EQ(yv[i], static_cast<float>(qv[i]) * static_cast<float>(s));
}

TEST(RoundingTest, BadArgumentsAreNamed) {
  const at::Tensor x = Uniform({3}, -1, 1, 1);
  ExpectInvalidArgumentNaming([&] { QuantizeInt8(x, 0.0, Rounding::kHalfToEven); }, "scale");
  ExpectInvalidArgumentNaming([&] { QuantizeInt8(x.to(at::kInt), 1.0, Rounding::kHalfToEven); }, "x");
}

// ---------------------------------------------------------------------------------------------------------------
// Hadamard (MODES.md §2.1)

// H12 as MODES.md lists it, copied independently of the library's table.
const std::array<const char*, 12> kH12Rows = {"+-++++++++++", "--+-+-+-+-+-", "+++-++----++", "+---+--+-++-",
                                              "+++++-++----", "+-+---+--+-+", "++--+++-++--", "+--++---+--+",
                                              "++----+++-++", "+--+-++---+-", "++++----+++-", "+-+--+-++---"};

int H12(int64_t r, int64_t c) { return kH12Rows[r][c] == '+' ? 1 : -1; }
int Sylvester(int64_t j, int64_t k) {
  int bits = 0;
  for (int64_t v = j & k; v != 0; v >>= 1) bits += static_cast<int>(v & 1);
  return bits % 2 == 0 ? 1 : -1;
}

const std::vector<int64_t> kHadamardSizes = {1,   2,   4,    12,   20,   28,   40,   56,   80,  192,
                                             384, 768, 1024, 1536, 2048, 2560, 3072, 4096, 5120};

TEST(HadamardTest, H12IsTheListedMatrix) {
  const at::Tensor h = HadamardMatrix(12, at::kDouble) * std::sqrt(12.0);
  auto a = h.accessor<double, 2>();
  for (int r = 0; r < 12; ++r) {
    for (int c = 0; c < 12; ++c) EXPECT_NEAR(a[r][c], H12(r, c), 1e-12) << r << "," << c;
  }
  // H12·H12ᵀ = 12·I with the rows as listed, in integers.
  for (int r = 0; r < 12; ++r) {
    for (int s = 0; s < 12; ++s) {
      int dot = 0;
      for (int c = 0; c < 12; ++c) dot += H12(r, c) * H12(s, c);
      EXPECT_EQ(dot, r == s ? 12 : 0) << r << "," << s;
    }
  }
}

TEST(HadamardTest, BaseBlocksAreSymmetricHadamardMatrices) {
  for (int64_t b : {12, 20, 28}) {
    EXPECT_EQ(HadamardBaseBlock(b), b);
    const at::Tensor h = at::round(HadamardMatrix(b, at::kDouble) * std::sqrt(static_cast<double>(b)));
    auto a = h.accessor<double, 2>();
    for (int64_t r = 0; r < b; ++r) {
      for (int64_t s = 0; s < b; ++s) {
        EXPECT_EQ(std::fabs(a[r][s]), 1.0);
        EXPECT_EQ(a[r][s], a[s][r]) << "b=" << b;
        double dot = 0;
        for (int64_t c = 0; c < b; ++c) dot += a[r][c] * a[s][c];
        EXPECT_EQ(dot, r == s ? static_cast<double>(b) : 0.0) << "b=" << b << " rows " << r << "," << s;
      }
    }
  }
}

// Paley construction II for a field of q ≡ 1 (mod 4) elements, giving a symmetric Hadamard matrix of order
// 2(q + 1). The field is GF(p) (q = p) or GF(p²) = GF(p)[i]/(i² + 1) for p ≡ 3 (mod 4), where i² + 1 is
// irreducible; element a + b·i has index a + b·p. χ is the quadratic character; the Jacobsthal matrix
// Q[x][y] = χ(x − y) is symmetric because χ(−1) = 1 when q ≡ 1 (mod 4). With the conference matrix
// C = [[0, 1ᵀ], [1, Q]], H = C ⊗ [[1, 1], [1, −1]] + I ⊗ [[1, −1], [−1, −1]].
std::vector<std::vector<int>> PaleyII(int p, int degree) {
  const int q = degree == 1 ? p : p * p;
  auto mul = [&](int x, int y) {  // (a + b i)(c + d i) = (ac − bd) + (ad + bc) i
    const int a = x % p, b = x / p, c = y % p, d = y / p;
    return ((a * c - b * d) % p + p) % p + ((a * d + b * c) % p) * p;
  };
  auto sub = [&](int x, int y) { return ((x % p - y % p + p) % p) + ((x / p - y / p + p) % p) * p; };
  std::vector<int> chi(q, -1);
  chi[0] = 0;
  for (int x = 1; x < q; ++x) chi[mul(x, x)] = 1;
  const int n = q + 1;
  std::vector<std::vector<int>> c(n, std::vector<int>(n, 0));
  for (int k = 1; k < n; ++k) c[0][k] = c[k][0] = 1;
  for (int x = 0; x < q; ++x) {
    for (int y = 0; y < q; ++y) c[x + 1][y + 1] = chi[sub(x, y)];
  }
  std::vector<std::vector<int>> h(2 * n, std::vector<int>(2 * n, 0));
  for (int r = 0; r < n; ++r) {
    for (int s = 0; s < n; ++s) {
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          h[2 * r + i][2 * s + j] = c[r][s] != 0 ? c[r][s] * (i == 1 && j == 1 ? -1 : 1) : (i == 0 && j == 0 ? 1 : -1);
        }
      }
    }
  }
  return h;
}

// The library's H20 and H28 (kernels/hadamard/hadamard_blocks.h) are Paley II over GF(9) and GF(13), built here.
TEST(HadamardTest, H20AndH28AreThePaleyConstruction) {
  for (const auto& [b, paley] : {std::make_pair(20, PaleyII(3, 2)), std::make_pair(28, PaleyII(13, 1))}) {
    const at::Tensor h = HadamardMatrix(b, at::kDouble) * std::sqrt(static_cast<double>(b));
    auto a = h.accessor<double, 2>();
    for (int r = 0; r < b; ++r) {
      for (int c = 0; c < b; ++c) EXPECT_NEAR(a[r][c], paley[r][c], 1e-12) << "b=" << b << " " << r << "," << c;
    }
  }
}

TEST(HadamardTest, KroneckerIndexOrderIsBlockMajor) {
  // d = 12·M: element (c·M + j, c'·M + j') = H12[c][c']·S[j][j'] / √d, for the whole matrix.
  for (int64_t m : {1, 2, 4, 16, 32}) {
    const int64_t d = 12 * m;
    const at::Tensor h = HadamardMatrix(d, at::kDouble);
    auto a = h.accessor<double, 2>();
    const double norm = 1.0 / std::sqrt(static_cast<double>(d));
    for (int64_t c = 0; c < 12; ++c) {
      for (int64_t j = 0; j < m; ++j) {
        for (int64_t c2 = 0; c2 < 12; ++c2) {
          for (int64_t j2 = 0; j2 < m; ++j2) {
            ASSERT_NEAR(a[c * m + j][c2 * m + j2], H12(c, c2) * Sylvester(j, j2) * norm, 1e-15)
                << "d=" << d << " (" << c << "," << j << "),(" << c2 << "," << j2 << ")";
          }
        }
      }
    }
  }
  // The same structure for the other blocks, with the block read off the library's own b×b matrix.
  for (int64_t d : {40, 80, 56}) {
    const int64_t b = HadamardBaseBlock(d), m = d / b;
    const at::Tensor hb = at::round(HadamardMatrix(b, at::kDouble) * std::sqrt(static_cast<double>(b)));
    const at::Tensor h = HadamardMatrix(d, at::kDouble) * std::sqrt(static_cast<double>(d));
    auto A = hb.accessor<double, 2>();
    auto a = h.accessor<double, 2>();
    for (int64_t r = 0; r < d; ++r) {
      for (int64_t s = 0; s < d; ++s) {
        ASSERT_NEAR(a[r][s], A[r / m][s / m] * Sylvester(r % m, s % m), 1e-12) << "d=" << d;
      }
    }
  }
}

TEST(HadamardTest, HandExampleOfTheFastTransform) {
  // d = 24 = 12·2: e_3 (c = 1, j = 1) · Ĥ is row 3 of Ĥ: H12 row 1 (--+-+-+-+-+-), each entry s giving the
  // pair (s·S[1][0], s·S[1][1]) = (s, −s), over √24.
  std::vector<float> x(24, 0.0f);
  x[3] = 1.0f;
  const std::vector<float> want_signs = {-1, 1,  -1, 1, 1, -1, -1, 1, 1, -1, -1, 1,
                                         1,  -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1};
  const std::vector<float> got = ToVector<float>(ApplyHadamard(FromVector(x, {24})));
  for (int i = 0; i < 24; ++i) EXPECT_NEAR(got[i], want_signs[i] / std::sqrt(24.0), 1e-7) << i;
}

TEST(HadamardTest, SymmetricOrthogonalAndSelfInverseAtEverySize) {
  for (int64_t d : kHadamardSizes) {
    SCOPED_TRACE("d=" + std::to_string(d));
    ASSERT_TRUE(HadamardSupported(d));
    const at::Tensor h = HadamardMatrix(d, at::kDouble);
    EXPECT_TRUE(at::equal(h, h.t()));
    EXPECT_LT((h.abs() - 1.0 / std::sqrt(static_cast<double>(d))).abs().max().item<double>(), 1e-15);
    if (d <= 1024) {
      // Ĥ·Ĥ = I exactly up to fp64 rounding of d terms of size 1/d.
      EXPECT_LT((at::matmul(h, h) - at::eye(d, at::kDouble)).abs().max().item<double>(), 1e-12);
    } else {
      // A full product would take minutes here: Ĥ symmetric with Ĥ(Ĥv) = v for random v means Ĥ² = I on them.
      const at::Tensor v = Uniform({d, 5}, -1, 1, 11).to(at::kDouble);
      EXPECT_LT((at::matmul(h, at::matmul(h, v)) - v).abs().max().item<double>(), 1e-12);
    }
  }
}

TEST(HadamardTest, FastTransformEqualsTheMatrixProduct) {
  for (int64_t d : kHadamardSizes) {
    SCOPED_TRACE("d=" + std::to_string(d));
    const at::Tensor x = Uniform({3, 1, d}, -3.0f, 3.0f, static_cast<unsigned>(d));
    const at::Tensor exact = at::matmul(x.to(at::kDouble), HadamardMatrix(d, at::kDouble));
    const at::Tensor fast = ApplyHadamard(x);
    EXPECT_EQ(fast.scalar_type(), at::kFloat);
    EXPECT_EQ(fast.sizes(), x.sizes());
    // Each output is a ±sum of d inputs formed in log2(M) + (b − 1) rounded adds, then one rounded scale: the
    // error is at most (log2 M + b + 1)·2^-24·Σ|x_i|/√d ≤ (log2 M + b + 1)·2^-24·√d·max|x|.
    const int64_t b = HadamardBaseBlock(d), m = d / b;
    const double bound = (std::log2(static_cast<double>(m)) + b + 1) * std::ldexp(1.0, -24) *
                         std::sqrt(static_cast<double>(d)) * x.abs().max().item<double>();
    EXPECT_LE((fast.to(at::kDouble) - exact).abs().max().item<double>(), bound);
    // fp64 in, fp64 out (near-exact); applying twice gives x back.
    EXPECT_LT((ApplyHadamard(x.to(at::kDouble)) - exact).abs().max().item<double>(), 1e-11);
    EXPECT_LT((ApplyHadamard(ApplyHadamard(x.to(at::kDouble))) - x.to(at::kDouble)).abs().max().item<double>(), 1e-11);
  }
  // fp16 input is computed and returned in fp32.
  const at::Tensor h16 = Uniform({2, 40}, -1, 1, 3).to(at::kHalf);
  EXPECT_EQ(ApplyHadamard(h16).scalar_type(), at::kFloat);
  EXPECT_TRUE(at::allclose(ApplyHadamard(h16), ApplyHadamard(h16.to(at::kFloat))));
}

TEST(HadamardTest, UnsupportedSizesAreRejected) {
  for (int64_t d : {0, 3, 7, 24 * 3, 36, 44, 60}) EXPECT_FALSE(HadamardSupported(d)) << d;
  ExpectInvalidArgumentNaming([] { HadamardMatrix(36); }, "36");
  ExpectInvalidArgumentNaming([] { ApplyHadamard(at::ones({2, 36})); }, "36");
}

// ---------------------------------------------------------------------------------------------------------------
// Observers (MODES.md §2.2)

TEST(ObserverTest, MinMaxKeepsTheRunningMaximum) {
  MinMaxObserver o;
  EXPECT_THROW(o.Scale(), Error);
  o.Observe(FromVector({0.25f, -0.5f, 0.125f}, {3}));
  EXPECT_EQ(o.Max(), 0.5);
  o.Observe(FromVector({1.0f, -2.0f, 0.5f}, {3}));
  o.Observe(FromVector({1.0f, 1.5f}, {2}).to(at::kHalf));
  EXPECT_EQ(o.Max(), 2.0);
  EXPECT_EQ(o.forwards(), 3);
  EXPECT_EQ(o.Scale(), static_cast<double>(2.0f / 127.0f));
  // Floors: max at least 1e-5, scale at least 1e-6 (1e-5 / 127 is below it).
  MinMaxObserver tiny;
  tiny.Observe(at::full({4}, 1e-7f));
  EXPECT_EQ(tiny.Max(), 1e-5);
  EXPECT_EQ(tiny.Scale(), static_cast<double>(1e-6f));
}

// numpy's "linear" quantile of |x| in fp64 by full sort.
double NumpyQuantile(const std::vector<float>& x, double alpha) {
  std::vector<double> a;
  for (float v : x) a.push_back(std::fabs(static_cast<double>(v)));
  std::sort(a.begin(), a.end());
  const double pos = alpha * static_cast<double>(a.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, a.size() - 1);
  return a[lo] + (pos - static_cast<double>(lo)) * (a[hi] - a[lo]);
}

TEST(ObserverTest, QuantileInterpolatesLikeNumpy) {
  // By hand: |x| sorted = 1 2 3 4 5; alpha 0.3 → position 1.2 → 2 + 0.2·(3 − 2) = 2.2.
  const at::Tensor x = FromVector({-4, 1, 3, -2, 5}, {5});
  EXPECT_NEAR(AbsQuantile(x, 0.3), 2.2, 1e-6);
  EXPECT_EQ(AbsQuantile(x, 1.0), 5.0);
  EXPECT_EQ(AbsQuantile(x, 0.0), 1.0);
  EXPECT_NEAR(AbsQuantile(x, 0.9), 4.6, 1e-6);
  for (double alpha : {0.9995, 0.9999, 0.5}) {
    const at::Tensor r = Uniform({7, 11, 131}, -3.0f, 3.0f, 21);
    // The interpolation is fp32 between two fp32 order statistics: within 2 fp32 ulps of the fp64 value.
    const double want = NumpyQuantile(ToVector<float>(r), alpha);
    EXPECT_NEAR(AbsQuantile(r, alpha), want, 2 * std::ldexp(want, -23)) << alpha;
  }
}

TEST(ObserverTest, QuantileIsExactBeyondTorchQuantileLimit) {
  // 2^24 + 1001 elements (torch.quantile refuses more than 2^24): values k = i mod 4097 in a scrambled order,
  // so the order statistics are known by counting.
  const int64_t n = (int64_t{1} << 24) + 1001, period = 4097;
  at::Tensor t = at::empty({n}, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) p[(i * 7919) % n] = static_cast<float>(i % period) * (i % 2 == 0 ? 1.0f : -1.0f);
  std::vector<int64_t> count(period, 0);
  for (int64_t i = 0; i < n; ++i) ++count[i % period];
  auto order_statistic = [&](int64_t rank) {
    for (int64_t k = 0; k < period; ++k) {
      if (rank < count[k]) return static_cast<double>(k);
      rank -= count[k];
    }
    return -1.0;
  };
  for (double alpha : {0.9995, 0.37}) {
    const double pos = alpha * static_cast<double>(n - 1);
    const int64_t lo = static_cast<int64_t>(std::floor(pos));
    const double a = order_statistic(lo), b = order_statistic(lo + 1);
    const double want = a + (pos - static_cast<double>(lo)) * (b - a);
    EXPECT_NEAR(AbsQuantile(t, alpha), want, 2 * std::ldexp(std::max(want, 1.0), -23)) << alpha;
  }
}

TEST(ObserverTest, PercentileStartsAtTheFirstValueThenMovesOnePercent) {
  PercentileObserver o(0.5);
  EXPECT_THROW(o.Value(), Error);
  // |x| medians: 3, 7, 1 (odd sizes, no interpolation needed).
  o.Observe(FromVector({-1, 3, 5}, {3}));
  EXPECT_EQ(o.Value(), 3.0);
  o.Observe(FromVector({7, -9, 6, 8, -2}, {5}));
  double w = 3.0 + 0.01 * (7.0 - 3.0);
  EXPECT_DOUBLE_EQ(o.Value(), w);
  o.Observe(FromVector({1, -1, 1}, {3}));
  w = w + 0.01 * (1.0 - w);
  EXPECT_DOUBLE_EQ(o.Value(), w);
  EXPECT_EQ(o.Scale(), static_cast<double>(static_cast<float>(w) / 127.0f));
  EXPECT_EQ(o.forwards(), 3);
  ExpectInvalidArgumentNaming([] { PercentileObserver bad(0.0); }, "alpha");
  ExpectInvalidArgumentNaming([] { PercentileObserver bad(1.5); }, "alpha");
}

// ---------------------------------------------------------------------------------------------------------------
// Weight quantization (MODES.md §2.2)

// The recipe in fp16: every intermediate rounded to fp16.
QuantizedWeight ReferenceFp16(const std::vector<float>& w) {
  float m = 0;
  for (float v : w) m = std::max(m, std::fabs(HalfRound(v)));
  m = std::max(m, HalfRound(1e-5f));
  const float s = HalfRound(m / 127.0f);
  at::Tensor q = at::empty({static_cast<int64_t>(w.size())}, at::kChar);
  for (size_t i = 0; i < w.size(); ++i) {
    q.data_ptr<int8_t>()[i] = static_cast<int8_t>(Clamp8(RneInt(HalfRound(HalfRound(w[i]) / s))));
  }
  return QuantizedWeight{q, s};
}

QuantizedWeight ReferenceFp32(const std::vector<float>& w, bool clamp) {
  double m = 1e-5;
  for (float v : w) m = std::max(m, static_cast<double>(std::fabs(v)));
  const float s = static_cast<float>(m) / 127.0f;
  at::Tensor q = at::empty({static_cast<int64_t>(w.size())}, at::kChar);
  for (size_t i = 0; i < w.size(); ++i) {
    const int v = RneInt(w[i] / s);
    q.data_ptr<int8_t>()[i] = static_cast<int8_t>(clamp ? Clamp8(v) : v);
  }
  return QuantizedWeight{q, s};
}

TEST(WeightQuantTest, Fp16AndFp32ArithmeticMatchTheirReferencesAndDiffer) {
  const at::Tensor w = Uniform({37, 53}, -0.731f, 0.69f, 13);
  const std::vector<float> wv = ToVector<float>(w);
  const QuantizedWeight q16 = QuantizeWeight(w, /*fp16_arithmetic=*/true);
  const QuantizedWeight q32 = QuantizeWeight(w, /*fp16_arithmetic=*/false);
  const QuantizedWeight r16 = ReferenceFp16(wv), r32 = ReferenceFp32(wv, true);
  EXPECT_EQ(q16.q.sizes(), w.sizes());
  EXPECT_EQ(q16.q.scalar_type(), at::kChar);
  EXPECT_EQ(q16.scale, r16.scale);
  EXPECT_EQ(q32.scale, r32.scale);
  EXPECT_TRUE(at::equal(q16.q.view({-1}), r16.q));
  EXPECT_TRUE(at::equal(q32.q.view({-1}), r32.q));
  // The two arithmetics give different codes here (the reason both exist).
  const int64_t differ = q16.q.ne(q32.q).sum().item<int64_t>();
  EXPECT_GT(differ, 0);
  EXPECT_NE(q16.scale, q32.scale);
  // Weights that are already fp16 quantize the same through either entry dtype.
  EXPECT_TRUE(at::equal(QuantizeWeight(w.to(at::kHalf), true).q, q16.q));
}

TEST(WeightQuantTest, TinyWeightsUseTheMaxFloor) {
  const at::Tensor w = Uniform({5, 3}, -1e-7f, 1e-7f, 2);
  const QuantizedWeight q = QuantizeWeight(w, false);
  EXPECT_EQ(q.scale, static_cast<double>(1e-5f / 127.0f));
  EXPECT_TRUE(at::equal(q.q.view({-1}), ReferenceFp32(ToVector<float>(w), true).q));
}

TEST(WeightQuantTest, ParametersWithoutClamp) {
  const at::Tensor p = Uniform({23, 7}, -2.9f, 4.1f, 31);  // A_log-like
  const QuantizedWeight q = QuantizeParameterNoClamp(p);
  const QuantizedWeight r = ReferenceFp32(ToVector<float>(p), false);
  EXPECT_EQ(q.scale, r.scale);
  EXPECT_TRUE(at::equal(q.q.view({-1}), r.q));
  EXPECT_EQ(q.q.abs().max().item<int>(), 127);
  ExpectInvalidArgumentNaming([] { QuantizeParameterNoClamp(at::Tensor()); }, "weight");
}

// ---------------------------------------------------------------------------------------------------------------
// W8A8 linear (MODES.md §2.3 steps 2, 4, 7)

std::vector<int64_t> Int64Matmul(const at::Tensor& x, const at::Tensor& w) {
  const std::vector<int8_t> xv = ToVector<int8_t>(x), wv = ToVector<int8_t>(w);
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / in;
  std::vector<int64_t> acc(rows * out, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) acc[r * out + o] += int64_t{xv[r * in + i]} * wv[o * in + i];
    }
  }
  return acc;
}

TEST(QLinearTest, Int8OutputAtOddSizes) {
  const at::Tensor x = RandomInt8({3, 5, 37}, -128, 127, 41);
  const at::Tensor w = RandomInt8({29, 37}, -128, 127, 43);
  const double alpha = 0.00313;  // acc has a spread of ~3·10^4: both in-range and clamped outputs
  const at::Tensor y = W8A8LinearInt8(x, w, alpha);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 5, 29}));
  ASSERT_EQ(y.scalar_type(), at::kChar);
  const std::vector<int64_t> acc = Int64Matmul(x, w);
  const std::vector<int8_t> got = ToVector<int8_t>(y);
  int clamped = 0;
  for (size_t i = 0; i < acc.size(); ++i) {
    const float v = static_cast<float>(alpha) * static_cast<float>(acc[i]);
    const int want = Clamp8(RneInt(v));
    clamped += want != RneInt(v) ? 1 : 0;
    ASSERT_EQ(got[i], want) << i;
  }
  EXPECT_GT(clamped, 0);  // the clamp is exercised
}

TEST(QLinearTest, AccumulationIsExactBeyondFp32Integers) {
  // in = 1537 with every product 16384: |acc| = 25,182,208 > 2^24, exact in int32.
  const at::Tensor x = at::full({2, 1537}, -128, at::kChar);
  at::Tensor w = at::full({3, 1537}, 127, at::kChar);
  w[0].fill_(-128);
  const std::vector<int32_t> got = ToVector<int32_t>(Int8MatmulInt32(x, w));
  const std::vector<int64_t> want = Int64Matmul(x, w);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]);
  EXPECT_EQ(want[0], 1537 * 16384);
  const at::Tensor xr = RandomInt8({4, 1023}, -128, 127, 3), wr = RandomInt8({5, 1023}, -128, 127, 4);
  const std::vector<int32_t> gr = ToVector<int32_t>(Int8MatmulInt32(xr, wr));
  const std::vector<int64_t> wantr = Int64Matmul(xr, wr);
  for (size_t i = 0; i < wantr.size(); ++i) EXPECT_EQ(gr[i], wantr[i]);
}

TEST(QLinearTest, FloatOutput) {
  const at::Tensor x = RandomInt8({2, 3, 19}, -128, 127, 51);
  const at::Tensor w = RandomInt8({11, 19}, -128, 127, 52);
  const double scale = 3.1e-5;
  const std::vector<int64_t> acc = Int64Matmul(x, w);
  const at::Tensor y32 = W8A8LinearFloat(x, w, scale, at::kFloat);
  const at::Tensor y16 = W8A8LinearFloat(x, w, scale, at::kHalf);
  EXPECT_EQ(y16.scalar_type(), at::kHalf);
  const std::vector<float> g32 = ToVector<float>(y32), g16 = ToVector<float>(y16.to(at::kFloat));
  for (size_t i = 0; i < acc.size(); ++i) {
    const float v = static_cast<float>(scale) * static_cast<float>(acc[i]);
    EXPECT_EQ(g32[i], v);
    EXPECT_EQ(g16[i], HalfRound(v));
  }
}

TEST(QLinearTest, BadArgumentsAreNamed) {
  const at::Tensor x = RandomInt8({2, 5}, -3, 3, 1);
  ExpectInvalidArgumentNaming([&] { W8A8LinearInt8(x, at::ones({4, 5}), 1.0); }, "w_q");
  ExpectInvalidArgumentNaming([&] { W8A8LinearInt8(x, RandomInt8({4, 6}, -3, 3, 2), 1.0); }, "w_q");
  ExpectInvalidArgumentNaming([&] { W8A8LinearInt8(x.to(at::kFloat), RandomInt8({4, 5}, -3, 3, 2), 1.0); }, "x_q");
  ExpectInvalidArgumentNaming([&] { W8A8LinearFloat(x, RandomInt8({4, 5}, -3, 3, 2), 1.0, at::kInt); }, "out");
  // Positive as a double but 0 as fp32, the precision the epilogue computes in: refused under its own name.
  ExpectInvalidArgumentNaming([&] { W8A8LinearInt8(x, RandomInt8({4, 5}, -3, 3, 2), 1e-50); }, "alpha");
  ExpectInvalidArgumentNaming([&] { W8A8LinearFloat(x, RandomInt8({4, 5}, -3, 3, 2), 1e-50, at::kHalf); }, "scale");
}

// ---------------------------------------------------------------------------------------------------------------
// Quantized conv1d + SiLU (MODES.md §2.3 step 3)

struct ConvShape {
  int64_t B, L, E, K;
};

void PrintTo(const ConvShape& s, std::ostream* os) { *os << s.B << "x" << s.L << "x" << s.E << "x" << s.K; }

struct ConvCase {
  int64_t B, L, E, K;
  at::Tensor x, w, b;
  double s_x = 0.0213, s_w = 0.0071, s_b = 0.0039, s_out = 0.0117;
  explicit ConvCase(ConvShape s = ConvShape{2, 11, 13, 4})
      : B(s.B),
        L(s.L),
        E(s.E),
        K(s.K),
        x(RandomInt8({B, L, E}, -128, 127, 61)),
        w(RandomInt8({E, K}, -127, 127, 62)),
        b(RandomInt8({E}, -128, 127, 63)) {}

  // The stated fp32 order, written out again: ws = s_w·s_x, bias = s_b·b, v = ws·acc + bias, v / (1 + exp(−v)),
  // exp being the contract's Fp32Exp (itself checked against long double in tests/kernels/fp32_math_test.cc).
  std::vector<float> SiluFp32() const {
    const std::vector<int8_t> xv = ToVector<int8_t>(x), wv = ToVector<int8_t>(w), bv = ToVector<int8_t>(b);
    std::vector<float> out(B * L * E);
    for (int64_t bb = 0; bb < B; ++bb) {
      for (int64_t t = 0; t < L; ++t) {
        for (int64_t e = 0; e < E; ++e) {
          int64_t acc = 0;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t src = t - K + 1 + k;
            if (src >= 0) acc += int64_t{wv[e * K + k]} * xv[(bb * L + src) * E + e];
          }
          const float ws = static_cast<float>(s_w) * static_cast<float>(s_x);
          const float bias = static_cast<float>(s_b) * static_cast<float>(bv[e]);
          const float prod = ws * static_cast<float>(acc);
          const float v = prod + bias;
          out[(bb * L + t) * E + e] = v / (1.0f + Fp32Exp(-v));
        }
      }
    }
    return out;
  }
};

class QConvShapeTest : public ::testing::TestWithParam<ConvShape> {};

TEST_P(QConvShapeTest, FloatOutputFollowsTheStatedOrderAndFp64) {
  const ConvCase c(GetParam());
  const at::Tensor y = QConv1dSiluFloat(c.x, c.w, c.b, c.s_x, c.s_w, c.s_b);
  ASSERT_EQ(y.sizes(), c.x.sizes());
  ASSERT_EQ(y.scalar_type(), at::kFloat);
  const std::vector<float> got = ToVector<float>(y), want = c.SiluFp32();
  EXPECT_EQ(got, want);
  // And within a few fp32 ulps of the fp64 value (about 6 roundings of relative size 2^-24).
  const std::vector<int8_t> xv = ToVector<int8_t>(c.x), wv = ToVector<int8_t>(c.w), bv = ToVector<int8_t>(c.b);
  for (int64_t bb = 0; bb < c.B; ++bb) {
    for (int64_t t = 0; t < c.L; ++t) {
      for (int64_t e = 0; e < c.E; ++e) {
        double acc = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          const int64_t src = t - c.K + 1 + k;
          if (src >= 0) acc += double(wv[e * c.K + k]) * xv[(bb * c.L + src) * c.E + e];
        }
        const double v = c.s_w * c.s_x * acc + c.s_b * bv[e];
        const double s = v / (1 + std::exp(-v));
        // v's rounding error is relative to its two terms, not to v (they can cancel); SiLU' ≤ 1.1.
        const double terms = std::fabs(c.s_w * c.s_x * acc) + std::fabs(c.s_b * bv[e]);
        EXPECT_NEAR(got[(bb * c.L + t) * c.E + e], s, 1e-6 * terms) << bb << "," << t << "," << e;
      }
    }
  }
}

TEST_P(QConvShapeTest, Int8OutputIsTheRhazQuotientOfTheFloatOutput) {
  const ConvCase c(GetParam());
  const std::vector<float> silu = c.SiluFp32();
  const std::vector<int8_t> got = ToVector<int8_t>(QConv1dSiluInt8(c.x, c.w, c.b, c.s_x, c.s_w, c.s_b, c.s_out));
  int clamped = 0;
  for (size_t i = 0; i < silu.size(); ++i) {
    const int rounded = RhazInt(silu[i] / static_cast<float>(c.s_out));
    clamped += rounded != Clamp8(rounded) ? 1 : 0;
    ASSERT_EQ(got[i], Clamp8(rounded)) << i;
  }
  RecordProperty("clamped", clamped);
}

// Odd sizes: a single step (all history missing), fewer steps than taps, K = 1 (no history) and K = 6.
INSTANTIATE_TEST_SUITE_P(OddSizes, QConvShapeTest,
                         ::testing::Values(ConvShape{2, 11, 13, 4}, ConvShape{3, 1, 37, 4}, ConvShape{3, 17, 37, 4},
                                           ConvShape{1, 3, 7, 6}, ConvShape{2, 9, 5, 1}, ConvShape{2, 40, 129, 4}));

TEST(QConvTest, Int8OutputTiesGoAwayFromZero) {
  const ConvCase c;
  const std::vector<float> silu = c.SiluFp32();
  // Ties: pick s_out so that SiLU(v) / s_out is exactly k + 0.5 with k even at one positive and one negative
  // output; RHAZ must go away from zero there, where RNE would go to k.
  for (int sign : {1, -1}) {
    size_t idx = silu.size();
    for (size_t i = 0; i < silu.size() && idx == silu.size(); ++i) {
      if ((sign > 0 ? silu[i] > 0.05f : silu[i] < -0.05f)) idx = i;
    }
    ASSERT_LT(idx, silu.size());
    float s_out = 0;
    int k = 0;
    for (int kk = 2; kk < 120 && s_out == 0; kk += 2) {
      const float cand = std::fabs(silu[idx]) / (kk + 0.5f);
      if (std::fabs(silu[idx]) / cand == kk + 0.5f) {
        s_out = cand;
        k = kk;
      }
    }
    ASSERT_GT(s_out, 0) << "no exact tie found";
    const std::vector<int8_t> q = ToVector<int8_t>(QConv1dSiluInt8(c.x, c.w, c.b, c.s_x, c.s_w, c.s_b, s_out));
    EXPECT_EQ(q[idx], sign * (k + 1)) << "sign " << sign;
  }
}

TEST(QConvTest, IsCausalWithKernelWidthReach) {
  const ConvCase c;
  const at::Tensor base = QConv1dSiluFloat(c.x, c.w, c.b, c.s_x, c.s_w, c.s_b);
  const int64_t bb = 1, t0 = 4, e0 = 6;
  at::Tensor x2 = c.x.clone();
  x2[bb][t0][e0] = int64_t{x2[bb][t0][e0].item<int>() > 0 ? -100 : 100};
  const at::Tensor moved = QConv1dSiluFloat(x2, c.w, c.b, c.s_x, c.s_w, c.s_b);
  const at::Tensor changed = moved.ne(base);
  for (int64_t b = 0; b < c.B; ++b) {
    for (int64_t t = 0; t < c.L; ++t) {
      for (int64_t e = 0; e < c.E; ++e) {
        const bool inside = b == bb && e == e0 && t >= t0 && t < t0 + c.K;
        // Inside the window every output moves (nonzero weights, a change of ≥ 100 codes); outside none does.
        EXPECT_EQ(changed[b][t][e].item<bool>(), inside) << b << "," << t << "," << e;
      }
    }
  }
}

TEST(QConvTest, BadArgumentsAreNamed) {
  const ConvCase c;
  ExpectInvalidArgumentNaming([&] { QConv1dSiluFloat(c.x, c.w, RandomInt8({12}, -3, 3, 1), 1, 1, 1); }, "b_q");
  ExpectInvalidArgumentNaming([&] { QConv1dSiluFloat(c.x, c.w.t(), c.b, 1, 1, 1); }, "w_q");
  ExpectInvalidArgumentNaming([&] { QConv1dSiluFloat(c.x[0], c.w, c.b, 1, 1, 1); }, "x_q");
  ExpectInvalidArgumentNaming([&] { QConv1dSiluInt8(c.x, c.w, c.b, 1, 1, 1, -1); }, "s_out");
}

// ---------------------------------------------------------------------------------------------------------------
// RMSNorm with int8 output (MODES.md §2.3 step 1)

// Rows × D: one value per row, odd sizes, mamba-130m's D = 768, and D = 2500 (the CUDA kernel's 1024-value tiles).
struct NormShape {
  int64_t rows, D;
};

void PrintTo(const NormShape& s, std::ostream* os) { *os << s.rows << "x" << s.D; }

class QRmsNormTest : public ::testing::TestWithParam<NormShape> {};

TEST_P(QRmsNormTest, FloatAndInt8) {
  const int64_t rows = GetParam().rows, D = GetParam().D;
  const at::Tensor s = Uniform({rows, 1, D}, -5.0f, 4.0f, 71);
  const double eps = 1e-5, s_out = 0.0123;
  const std::vector<float> sv = ToVector<float>(s);
  const std::vector<float> yf = ToVector<float>(QRmsNormFloat(s, eps));
  const std::vector<int8_t> yq = ToVector<int8_t>(QRmsNormInt8(s, eps, s_out));
  ASSERT_EQ(QRmsNormInt8(s, eps, s_out).sizes(), s.sizes());
  int clamped = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t d = 0; d < D; ++d) sum += double(sv[r * D + d]) * sv[r * D + d];
    const double rms64 = std::sqrt(sum / D + eps);
    // The stated fp32 steps: ms rounded once from fp64, sqrtf, one fp32 division.
    const float rms32 = std::sqrt(static_cast<float>(sum / D) + static_cast<float>(eps));
    for (int64_t d = 0; d < D; ++d) {
      const int64_t i = r * D + d;
      // Four fp32 roundings (ms, + eps, sqrt, division), each at most 2^-24 relative.
      ASSERT_NEAR(yf[i], sv[i] / rms64, 4 * std::ldexp(std::fabs(sv[i] / rms64), -24)) << i;
      const float y32 = sv[i] / rms32;
      ASSERT_EQ(yf[i], y32) << i;
      const int want = Clamp8(RneInt(y32 / static_cast<float>(s_out)));
      clamped += want != RneInt(y32 / static_cast<float>(s_out)) ? 1 : 0;
      ASSERT_EQ(yq[i], want) << i;
    }
  }
  if (D > 1) EXPECT_GT(clamped, 0);  // |y| reaches ~1.9 > 127·s_out = 1.56
  ExpectInvalidArgumentNaming([&] { QRmsNormInt8(s.to(at::kHalf), eps, s_out); }, "s");
}

INSTANTIATE_TEST_SUITE_P(OddSizes, QRmsNormTest,
                         ::testing::Values(NormShape{6, 41}, NormShape{5, 1}, NormShape{3, 768}, NormShape{2, 2500}));

// ---------------------------------------------------------------------------------------------------------------
// Selective scan variants (MODES.md §3)

// The recurrence of MODES.md §1 step 6 with dt's bias and softplus, in fp64, in the plainest order.
struct Fp64Scan {
  std::vector<double> y, last;
};

Fp64Scan ScanFp64(const SsmInputs& in) {
  const int64_t B = in.u.size(0), L = in.u.size(1), E = in.u.size(2), N = in.A.size(1);
  const auto u = ToVector<float>(in.u), dt = ToVector<float>(in.dt_raw), bias = ToVector<float>(in.dt_bias),
             A = ToVector<float>(in.A), Bm = ToVector<float>(in.Bm), Cm = ToVector<float>(in.Cm),
             D = ToVector<float>(in.D), z = ToVector<float>(in.z);
  Fp64Scan out{std::vector<double>(B * L * E), std::vector<double>(B * E * N)};
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t e = 0; e < E; ++e) {
      std::vector<double> h(N, 0.0);
      for (int64_t t = 0; t < L; ++t) {
        const int64_t i = (b * L + t) * E + e;
        const double v = double(dt[i]) + bias[e];
        const double delta = v > 20 ? v : std::log1p(std::exp(v));
        double acc = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t j = (b * L + t) * N + n;
          h[n] = std::exp(delta * A[e * N + n]) * h[n] + delta * Bm[j] * u[i];
          acc += h[n] * Cm[j];
        }
        out.y[i] = (acc + double(D[e]) * u[i]) * (z[i] / (1.0 + std::exp(-double(z[i]))));
      }
      for (int64_t n = 0; n < N; ++n) out.last[(b * E + e) * N + n] = h[n];
    }
  }
  return out;
}

class ScanTest : public ::testing::TestWithParam<ScanShape> {};

double MaxAbs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

TEST_P(ScanTest, EveryVariantMatchesTheFp64Recurrence) {
  const SsmInputs in = RandomScan(GetParam(), 100);
  const Fp64Scan want = ScanFp64(in);
  const double scale = MaxAbs(want.y), state_scale = MaxAbs(want.last);
  for (SsmArithmetic a : {SsmArithmetic::kFramework, SsmArithmetic::kReference, SsmArithmetic::kKernel}) {
    SCOPED_TRACE(static_cast<int>(a));
    at::Tensor last;
    const at::Tensor y = SsmScan(in, a, &last);
    ASSERT_EQ(y.sizes(), in.u.sizes());
    ASSERT_EQ(y.scalar_type(), at::kFloat);
    ASSERT_EQ(last.sizes(), (std::vector<int64_t>{in.u.size(0), in.u.size(2), in.A.size(1)}));
    const std::vector<float> got = ToVector<float>(y), got_last = ToVector<float>(last);
    // fp32 with decaying exp(Δ·A) ∈ (0, 1): each state is a convex-like sum whose rounding error stays within a
    // few dozen ulps of the largest term, whatever L (errors decay with the state); 1e-5 of the output's scale is
    // ~170 ulps. The kernel variant adds its fp16 output rounding: half an fp16 ulp, 2^-11 relative.
    const double fp16 = a == SsmArithmetic::kKernel ? std::ldexp(1.0, -11) : 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], want.y[i], 1e-5 * scale + fp16 * std::fabs(want.y[i])) << "y " << i;
    }
    for (size_t i = 0; i < got_last.size(); ++i) {
      ASSERT_NEAR(got_last[i], want.last[i], 1e-5 * state_scale) << "state " << i;
    }
  }
}

TEST_P(ScanTest, VariantsDifferOnlyAtRoundingLevel) {
  const SsmInputs in = RandomScan(GetParam(), 200);
  const at::Tensor framework = SsmScan(in, SsmArithmetic::kFramework);
  const at::Tensor reference = SsmScan(in, SsmArithmetic::kReference);
  const at::Tensor kernel = SsmScan(in, SsmArithmetic::kKernel);
  const double scale = framework.abs().max().item<double>();
  // Two fp32 evaluations of one recurrence: each within 1e-5·scale of fp64 (above), so within 2e-5 of each other.
  EXPECT_LE((framework - reference).abs().max().item<double>(), 2e-5 * scale);
  const at::Tensor diff = (kernel - framework).abs() - std::ldexp(1.0, -11) * framework.abs();
  EXPECT_LE(diff.max().item<double>(), 2e-5 * scale);
  // They are distinct computations ((Δ·u)·B against (Δ·B)·u; fast exp, tree and fp16 in the kernel).
  EXPECT_FALSE(at::equal(framework, reference));
  EXPECT_FALSE(at::equal(framework, kernel));
}

TEST_P(ScanTest, KernelOutputIsOnTheFp16Grid) {
  const SsmInputs in = RandomScan(GetParam(), 300);
  const at::Tensor y = SsmScan(in, SsmArithmetic::kKernel);
  EXPECT_TRUE(at::equal(y, y.to(at::kHalf).to(at::kFloat)));
  // And it is the fp16 rounding of a value close to the fp32 framework result (not, e.g., a truncation).
  const at::Tensor framework = SsmScan(in, SsmArithmetic::kFramework);
  EXPECT_LE((y - framework).abs().max().item<double>(),
            (std::ldexp(1.0, -11) + 2e-5) * framework.abs().max().item<double>());
}

TEST_P(ScanTest, ThreadCountDoesNotChangeABit) {
  const SsmInputs in = RandomScan(GetParam(), 400);
  const int threads = at::get_num_threads();
  for (SsmArithmetic a : {SsmArithmetic::kFramework, SsmArithmetic::kReference, SsmArithmetic::kKernel}) {
    at::set_num_threads(1);
    const at::Tensor one = SsmScan(in, a);
    at::set_num_threads(std::max(2, threads));
    const at::Tensor many = SsmScan(in, a);
    EXPECT_TRUE(at::equal(one, many));
  }
  at::set_num_threads(threads);
}

// Bit-identical: the same bytes (signed zeros and NaNs included), which at::equal on floats does not check.
bool SameBits(const at::Tensor& x, const at::Tensor& y) {
  return x.sizes() == y.sizes() && at::equal(x.contiguous().view(at::kInt), y.contiguous().view(at::kInt));
}

// dt as int8 codes: the scan's own dt_raw = Dequantize(codes), its Δ and decays looked up in tables of the 256
// codes, give the bits of the references computing them from that dt_raw; through QuantScan with codes (tables at
// every size) and through SsmScan (tables from kQuantScanTableMinSteps steps per channel, the codes dequantized
// below: both paths at these sizes).
static_assert(kQuantScanTableMinSteps == 1024, "the shapes below straddle 1024 steps per channel");

TEST_P(ScanTest, DtCodesThroughTablesGiveTheReferenceBits) {
  const ScanShape shape = GetParam();
  const SsmInputs coded = RandomCodedScan(shape, 500);
  SsmInputs plain = coded;
  plain.dt_q = at::Tensor();
  plain.dt_raw = Dequantize(coded.dt_q, coded.dt_scale);
  if (shape.B * shape.L >= 256) {
    // The data reach every table entry of channel 0 and softplus arguments beyond the threshold.
    EXPECT_EQ(std::get<0>(at::_unique(coded.dt_q.select(2, 0))).numel(), 256);
    EXPECT_GT((plain.dt_raw + plain.dt_bias).max().item<float>(), 20.0f);
  }
  for (SsmArithmetic a : {SsmArithmetic::kFramework, SsmArithmetic::kReference, SsmArithmetic::kKernel}) {
    SCOPED_TRACE(static_cast<int>(a));
    at::Tensor want_state, tabled_state, scan_state;
    const at::Tensor want = SsmScan(plain, a, &want_state);
    const at::Tensor tabled = QuantScan(a, coded.u, at::Tensor(), coded.dt_q, static_cast<float>(coded.dt_scale),
                                        coded.dt_bias, coded.A, coded.Bm, coded.Cm, coded.D, coded.z, &tabled_state);
    EXPECT_TRUE(SameBits(tabled, want));
    EXPECT_TRUE(SameBits(tabled_state, want_state));
    EXPECT_TRUE(SameBits(SsmScan(coded, a, &scan_state), want));
    EXPECT_TRUE(SameBits(scan_state, want_state));
  }
}

// Odd sizes; 2100 crosses the kernel variant's 2048-step chunk (the carry between chunks), 4100 two of them.
INSTANTIATE_TEST_SUITE_P(OddSizes, ScanTest,
                         ::testing::Values(ScanShape{2, 37, 5, 3}, ScanShape{3, 129, 7, 16}, ScanShape{1, 2100, 3, 4},
                                           ScanShape{1, 1, 9, 5}, ScanShape{2, 4100, 3, 2}));

TEST(ScanArgsTest, BadArgumentsAreNamed) {
  SsmInputs in = RandomScan(ScanShape{1, 5, 3, 2}, 1);
  SsmInputs bad = in;
  bad.Bm = in.Bm.narrow(2, 0, 1);
  ExpectInvalidArgumentNaming([&] { SsmScan(bad, SsmArithmetic::kKernel); }, "Bm");
  bad = in;
  bad.dt_bias = at::ones({4});
  ExpectInvalidArgumentNaming([&] { SsmScan(bad, SsmArithmetic::kFramework); }, "dt_bias");
  bad = in;
  bad.z = in.z.to(at::kHalf);
  ExpectInvalidArgumentNaming([&] { SsmScan(bad, SsmArithmetic::kReference); }, "z");
}

// The message of SsmScan's refusal of `in`.
std::string ScanError(const SsmInputs& in) {
  try {
    SsmScan(in, SsmArithmetic::kFramework);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "SsmScan accepted the inputs";
  return "";
}

TEST(ScanArgsTest, BadDtCodesAreNamedWithWhatIsAllowed) {
  const SsmInputs coded = RandomCodedScan(ScanShape{1, 5, 3, 2}, 1);
  SsmInputs bad = coded;
  bad.dt_q = coded.dt_q.to(at::kShort);
  EXPECT_EQ(ScanError(bad), "SsmScan: dt_q must be int8 [1, 5, 3], got Short [1, 5, 3]");
  bad.dt_q = coded.dt_q.narrow(1, 0, 4);
  EXPECT_EQ(ScanError(bad), "SsmScan: dt_q must be int8 [1, 5, 3], got Char [1, 4, 3]");
  bad.dt_q = at::empty({1, 5, 3}, at::TensorOptions().dtype(at::kChar).device(at::kMeta));
  EXPECT_EQ(ScanError(bad), "SsmScan: dt_q must be on u's device (cpu), got meta");
  bad = coded;
  bad.dt_raw = Dequantize(coded.dt_q, coded.dt_scale);
  EXPECT_EQ(ScanError(bad),
            "SsmScan: dt_raw must be undefined when dt_q is given (the scan dequantizes dt_q itself), got Float "
            "[1, 5, 3]");
  // Neither form of dt.
  bad = coded;
  bad.dt_q = at::Tensor();
  EXPECT_EQ(ScanError(bad), "SsmScan: dt_raw must be fp32 [1, 5, 3], got undefined");
  // A scale that is not a positive finite fp32 (1e-50 becomes 0 as fp32).
  for (double scale : {0.0, -0.05, 1e-50, std::numeric_limits<double>::infinity(), std::nan("")}) {
    bad = coded;
    bad.dt_scale = scale;
    const std::string message = ScanError(bad);
    EXPECT_NE(message.find("SsmScan: dt_scale must be a positive finite fp32 scale"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace layerscope
