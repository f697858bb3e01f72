// Rounding and int8 quantize/dequantize of the Quamba W8A8 recipe (../shared/docs/MODES.md §2): static per-tensor
// symmetric scales, integer range [-128, 127]. The recipe uses two rounding rules and bit-level agreement needs
// both: round-half-to-even (RNE) for the RMSNorm output, the W8A8 linears' int8 outputs and requantization in
// framework code; round-half-away-from-zero (RHAZ) in the conv1d kernel and the Hadamard quantization.
// Internal to the core library (LibTorch types). Every op runs on the tensor's device with ATen ops and is
// deterministic; bad arguments throw Error(kInvalidArgument).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace layerscope {

enum class Rounding {
  kHalfToEven,        // RNE: torch.round, __float2int_rn, cvt.rni
  kHalfAwayFromZero,  // RHAZ: C roundf
};

// "rne" / "rhaz", for messages and listings.
const char* RoundingName(Rounding r);

// x (any floating dtype) rounded to integral values with rule r, same dtype and device.
at::Tensor RoundTo(const at::Tensor& x, Rounding r);

// q = clamp(round_r(x / scale), -128, 127) as int8 (kChar). The division is a true IEEE fp32 division:
// fp32(x) / fp32(scale), never a multiplication by a reciprocal (which would move ties). scale > 0.
at::Tensor QuantizeInt8(const at::Tensor& x, double scale, Rounding r);

// fp32(q) * fp32(scale) as fp32, for int8 (or any integer/floating) q.
at::Tensor Dequantize(const at::Tensor& q, double scale);

}  // namespace layerscope
