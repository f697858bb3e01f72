// Fp32 exp, exp2 and log1p that give the same bits on the host and on a CUDA device.
//
// The C library's expf/exp2f/log1pf and CUDA's differ in their last bits, so a kernel that called CUDA's and a CPU
// reference that called the C library's could not agree bit for bit. These compute in double with a fixed sequence
// of IEEE additions, multiplications and divisions only (no library call, no fused multiply-add: on the device
// through the explicitly rounded intrinsics, which nvcc never contracts; on the host ISO C++ mode does not
// contract), then round once to fp32. Every step is correctly rounded IEEE arithmetic, so both sides give the
// same bits for every input.
//
// Accuracy: before the final rounding the double result is within 2^-50 (relative) of the exact value for exp and
// exp2, 2^-49 for log1p (exp: argument reduction by a table of 2^(j/64) and a two-part ln 2 / 64, a degree-5 Taylor
// polynomial truncated below 2^-54; log1p: atanh series truncated below 2^-58; a few rounded double operations).
// So the fp32 result is the correctly rounded value except when the exact value lies within that bound of a
// midpoint between two floats, where it may be the other neighbour: at most a 2^-25 fraction of arguments (in
// practice far fewer: the double error is usually a few 2^-53), and the error is then below 0.5 + 2^-25 ulp.
// Overflow gives +inf, underflow rounds through the fp32 subnormals to 0, NaN stays NaN.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/common/host_device.h"

namespace layerscope {
namespace fp32_math_internal {

// Rounded double operations that no compiler may fuse or reorder.
LAYERSCOPE_HOST_DEVICE inline double Add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
LAYERSCOPE_HOST_DEVICE inline double Mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
LAYERSCOPE_HOST_DEVICE inline double Div(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
LAYERSCOPE_HOST_DEVICE inline float ToFloat(double v) {
#if defined(__CUDA_ARCH__)
  return __double2float_rn(v);
#else
  return static_cast<float>(v);
#endif
}

LAYERSCOPE_HOST_DEVICE inline bool IsNan(float x) { return x != x; }
LAYERSCOPE_HOST_DEVICE inline float Infinity() {
  const uint32_t bits = 0x7f800000u;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// The nearest integer to v (ties to even) for |v| < 2^51, by the 1.5·2^52 shift (two exact-order additions).
LAYERSCOPE_HOST_DEVICE inline double NearestInteger(double v) {
  constexpr double kShift = 0x1.8p52;
  return Add(Add(v, kShift), -kShift);
}

// 2^k for a k whose power is a normal double.
LAYERSCOPE_HOST_DEVICE inline double Pow2(int k) {
  const uint64_t bits = static_cast<uint64_t>(k + 1023) << 52;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// ln 2 in two parts: kLn2Hi has 21 trailing zero bits, so k·kLn2Hi is exact for |k| < 2^21.
constexpr double kLn2Hi = 0x1.62e42feep-1;
constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
constexpr double kLn2 = 0x1.62e42fefa39efp-1;
constexpr double k64OverLn2 = 0x1.71547652b82fep+6;  // 64·log2(e)

// 2^(j/64) for j = 0 … 63, each the correctly rounded double (relative error ≤ 2^-53), checked in
// tests/kernels/fp32_math_test.cc. exp and exp2 reduce their argument to j/64 plus a remainder below 1/128 in
// magnitude, so the polynomial that is left is short: the fp64 operations are what bound the scan kernels.
// A macro because the device needs its own copy (a __device__ array, read through the cache: the lanes of a warp
// index it at random, which constant memory would serialize) and the host a constexpr one.
#define LAYERSCOPE_EXP2_BY_64THS                                                                                      \
  {                                                                                                                   \
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0, 0x1.0874518759bc8p+0, 0x1.0b5586cf9890fp+0,     \
        0x1.0e3ec32d3d1a2p+0, 0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0, 0x1.172b83c7d517bp+0, 0x1.1a35beb6fcb75p+0, \
        0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0, 0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0, \
        0x1.2d285a6e4030bp+0, 0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0, 0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0, \
        0x1.3dea64c123422p+0, 0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0, 0x1.4bfdad5362a27p+0, \
        0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0, 0x1.56f4736b527dap+0, 0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0, \
        0x1.6247eb03a5585p+0, 0x1.6623882552225p+0, 0x1.6a09e667f3bcdp+0, 0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, \
        0x1.75feb564267c9p+0, 0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0, 0x1.868d99b4492edp+0, \
        0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0, 0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0, 0x1.9c49182a3f090p+0, \
        0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0, 0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, \
        0x1.b7f76f2fb5e47p+0, 0x1.bcc1e904bc1d2p+0, 0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0, 0x1.cb720dcef9069p+0, \
        0x1.d072d4a07897cp+0, 0x1.d5818dcfba487p+0, 0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0, \
        0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0, 0x1.fa7c1819e90d8p+0,                       \
  }
constexpr double kExp2By64thsHost[64] = LAYERSCOPE_EXP2_BY_64THS;
#if defined(__CUDACC__)
__device__ const double kExp2By64thsDevice[64] = LAYERSCOPE_EXP2_BY_64THS;
#endif
#undef LAYERSCOPE_EXP2_BY_64THS

LAYERSCOPE_HOST_DEVICE inline double Exp2By64ths(int j) {
#if defined(__CUDA_ARCH__)
  return __ldg(&kExp2By64thsDevice[j]);
#else
  return kExp2By64thsHost[j];
#endif
}

// e^r for |r| ≤ 0.0055 (ln 2 / 128 and the reduction's rounding): Taylor polynomial of degree 5, whose truncation
// r^6/720 is below 2^-54.6 relative; Horner from the top.
LAYERSCOPE_HOST_DEVICE inline double ExpReduced(double r) {
  double p = 0x1.1111111111111p-7;           // 1/5!
  p = Add(Mul(p, r), 0x1.5555555555555p-5);  // 1/4!
  p = Add(Mul(p, r), 0x1.5555555555555p-3);  // 1/3!
  p = Add(Mul(p, r), 0.5);
  p = Add(Mul(p, r), 1.0);
  return Add(Mul(p, r), 1.0);
}

// 2^(k/64)·e^r rounded to fp32, k an integer-valued double with |k| < 2^14: the table entry of k mod 64, the
// polynomial, then the power of two k div 64 (exact while the double is normal, which covers the fp32 range).
LAYERSCOPE_HOST_DEVICE inline float ScaleBy64ths(double k, double r) {
  const int ki = static_cast<int>(k);
  const int j = ki & 63;  // two's complement: k mod 64 in [0, 64), also for negative k
  return ToFloat(Mul(Mul(Exp2By64ths(j), ExpReduced(r)), Pow2((ki - j) / 64)));
}

// ln(u) for a positive normal double u: u = m·2^e with m in [√½, √2], ln m = 2·atanh(s), s = (m − 1)/(m + 1),
// |s| ≤ 0.172, the atanh series to s^25 (truncation below 2^-60).
LAYERSCOPE_HOST_DEVICE inline double LogPositive(double u) {
  uint64_t bits;
  std::memcpy(&bits, &u, sizeof bits);
  int e = static_cast<int>(bits >> 52) - 1023;
  bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;  // m in [1, 2)
  if (bits > 0x3ff6a09e667f3bcdull) {                             // m > √2: halve it
    bits -= 0x0010000000000000ull;
    e += 1;
  }
  double m;
  std::memcpy(&m, &bits, sizeof m);
  const double s = Div(Add(m, -1.0), Add(m, 1.0));  // m − 1 is exact (Sterbenz)
  const double w = Mul(s, s);
  double p = 0x1.47ae147ae147bp-5;           // 1/25
  p = Add(Mul(p, w), 0x1.642c8590b2164p-5);  // 1/23
  p = Add(Mul(p, w), 0x1.8618618618618p-5);  // 1/21
  p = Add(Mul(p, w), 0x1.af286bca1af28p-5);  // 1/19
  p = Add(Mul(p, w), 0x1.e1e1e1e1e1e1ep-5);  // 1/17
  p = Add(Mul(p, w), 0x1.1111111111111p-4);  // 1/15
  p = Add(Mul(p, w), 0x1.3b13b13b13b14p-4);  // 1/13
  p = Add(Mul(p, w), 0x1.745d1745d1746p-4);  // 1/11
  p = Add(Mul(p, w), 0x1.c71c71c71c71cp-4);  // 1/9
  p = Add(Mul(p, w), 0x1.2492492492492p-3);  // 1/7
  p = Add(Mul(p, w), 0x1.999999999999ap-3);  // 1/5
  p = Add(Mul(p, w), 0x1.5555555555555p-2);  // 1/3
  const double two_s = Mul(2.0, s);
  const double log_m = Add(two_s, Mul(two_s, Mul(w, p)));  // 2s + 2s·(s²/3 + s⁴/5 + …)
  const double k = static_cast<double>(e);
  return Add(Mul(k, kLn2Hi), Add(Mul(k, kLn2Lo), log_m));
}

}  // namespace fp32_math_internal

// e^x rounded to fp32.
LAYERSCOPE_HOST_DEVICE inline float Fp32Exp(float x) {
  namespace m = fp32_math_internal;
  if (m::IsNan(x)) return x;
  if (x > 89.0f) return m::Infinity();  // e^89 > 2^128
  if (x < -104.0f) return 0.0f;         // e^-104 < 2^-150: rounds to 0
  // x = k·(ln 2 / 64) + r with k = nearest(x·64 / ln 2), |k| < 2^14; k·kLn2Hi / 64 is exact.
  const double xd = x;
  const double k = m::NearestInteger(m::Mul(xd, m::k64OverLn2));
  const double r = m::Add(m::Add(xd, -m::Mul(k, m::kLn2Hi / 64)), -m::Mul(k, m::kLn2Lo / 64));
  return m::ScaleBy64ths(k, r);
}

// 2^x rounded to fp32.
LAYERSCOPE_HOST_DEVICE inline float Fp32Exp2(float x) {
  namespace m = fp32_math_internal;
  if (m::IsNan(x)) return x;
  if (x >= 128.0f) return m::Infinity();
  if (x < -151.0f) return 0.0f;  // 2^-151 rounds to 0
  // x = k / 64 + r: x·64 is exact, and so is r (x is a float, k / 64 the nearest 64th to it, |r| ≤ 1/128).
  const double xd = x;
  const double k = m::NearestInteger(m::Mul(xd, 64.0));
  const double r = m::Add(xd, -m::Mul(k, 1.0 / 64));
  return m::ScaleBy64ths(k, m::Mul(r, m::kLn2));
}

// ln(1 + x) rounded to fp32.
LAYERSCOPE_HOST_DEVICE inline float Fp32Log1p(float x) {
  namespace m = fp32_math_internal;
  if (m::IsNan(x) || x < -1.0f) return m::Infinity() - m::Infinity();  // NaN
  if (x == -1.0f) return -m::Infinity();
  if (x == m::Infinity()) return x;
  const double xd = x;
  // Below 2^-29 in magnitude 1 + x is not exact in double: x − x²/2 (next term below 2^-58 relative) instead.
  if (xd < 0x1p-29 && xd > -0x1p-29) return m::ToFloat(m::Add(xd, -m::Mul(m::Mul(xd, xd), 0.5)));
  // Otherwise 1 + x is exact in double for every float x below 2^52, and beyond that its rounding is far below
  // the result's precision.
  return m::ToFloat(m::LogPositive(m::Add(1.0, xd)));
}

}  // namespace layerscope
