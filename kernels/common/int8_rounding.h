// fp32 → int8 code conversions of the quantized ops (../shared/docs/MODES.md §2), shared by the CPU references
// and the CUDA kernels so both round and clamp the same way. Rounding is exact IEEE arithmetic on either side.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/host_device.h"

namespace layerscope {

// clamp(v, -128, 127) as int8; v must already be an integer value. NaN gives -128 (as std::max(-128.0f, NaN)).
LAYERSCOPE_HOST_DEVICE inline int8_t ClampToInt8(float v) {
  const float low = -128.0f < v ? v : -128.0f;
  return static_cast<int8_t>(low < 127.0f ? low : 127.0f);
}

// RHAZ: ties away from zero (the conv kernel's rounding).
LAYERSCOPE_HOST_DEVICE inline int8_t RoundHalfAwayToInt8(float v) { return ClampToInt8(::roundf(v)); }

// RNE: ties to even (rintf under the default rounding mode, which the host never changes).
LAYERSCOPE_HOST_DEVICE inline int8_t RoundHalfEvenToInt8(float v) { return ClampToInt8(::rintf(v)); }

}  // namespace layerscope
