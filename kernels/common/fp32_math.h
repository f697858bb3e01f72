// Fp32 exp, exp2 and log1p that give the same bits on the host and on a CUDA device.
//
// The C library's expf/exp2f/log1pf and CUDA's differ in their last bits, so a kernel that called CUDA's and a CPU
// reference that called the C library's could not agree bit for bit. These compute in double with a fixed sequence
// of IEEE additions, multiplications and divisions only (no library call, no fused multiply-add: on the device
// through the explicitly rounded intrinsics, which nvcc never contracts; on the host ISO C++ mode does not
// contract), then round once to fp32. Every step is correctly rounded IEEE arithmetic, so both sides give the
// same bits for every input.
//
// Accuracy: before the final rounding the double result is within 2^-49 (relative) of the exact value (argument
// reduction with a two-part ln 2, Taylor/atanh series truncated below 2^-58, a dozen rounded double operations).
// So the fp32 result is the correctly rounded value except when the exact value lies within 2^-49 relative of a
// midpoint between two floats, where it may be the other neighbour: at most a 2^-24 fraction of arguments (in
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
constexpr double kLog2e = 0x1.71547652b82fep+0;

// e^r for |r| ≤ 0.35: Taylor polynomial of degree 13 (truncation below 2^-60), Horner from the top.
LAYERSCOPE_HOST_DEVICE inline double ExpReduced(double r) {
  double p = 0x1.6124613a86d09p-33;           // 1/13!
  p = Add(Mul(p, r), 0x1.1eed8eff8d898p-29);  // 1/12!
  p = Add(Mul(p, r), 0x1.ae64567f544e4p-26);  // 1/11!
  p = Add(Mul(p, r), 0x1.27e4fb7789f5cp-22);  // 1/10!
  p = Add(Mul(p, r), 0x1.71de3a556c734p-19);  // 1/9!
  p = Add(Mul(p, r), 0x1.a01a01a01a01ap-16);  // 1/8!
  p = Add(Mul(p, r), 0x1.a01a01a01a01ap-13);  // 1/7!
  p = Add(Mul(p, r), 0x1.6c16c16c16c17p-10);  // 1/6!
  p = Add(Mul(p, r), 0x1.1111111111111p-7);   // 1/5!
  p = Add(Mul(p, r), 0x1.5555555555555p-5);   // 1/4!
  p = Add(Mul(p, r), 0x1.5555555555555p-3);   // 1/3!
  p = Add(Mul(p, r), 0.5);
  p = Add(Mul(p, r), 1.0);
  return Add(Mul(p, r), 1.0);
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
  const double xd = x;
  const double k = m::NearestInteger(m::Mul(xd, m::kLog2e));
  const double r = m::Add(m::Add(xd, -m::Mul(k, m::kLn2Hi)), -m::Mul(k, m::kLn2Lo));
  return m::ToFloat(m::Mul(m::ExpReduced(r), m::Pow2(static_cast<int>(k))));
}

// 2^x rounded to fp32.
LAYERSCOPE_HOST_DEVICE inline float Fp32Exp2(float x) {
  namespace m = fp32_math_internal;
  if (m::IsNan(x)) return x;
  if (x >= 128.0f) return m::Infinity();
  if (x < -151.0f) return 0.0f;  // 2^-151 rounds to 0
  const double xd = x;
  const double k = m::NearestInteger(xd);
  const double r = m::Add(xd, -k);  // exact: x is a float, k an integer next to it
  return m::ToFloat(m::Mul(m::ExpReduced(m::Mul(r, m::kLn2)), m::Pow2(static_cast<int>(k))));
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
