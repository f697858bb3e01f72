// The Hadamard rotation of the SSM output fused with its int8 quantization (../shared/docs/MODES.md §2.1, §2.3
// step 6): each row y of [rows, d] (d = b·2^k, b ∈ {1, 12, 20, 28}, M = d / b) becomes the int8 codes of
// RHAZ(Ĥ_d·y / s_oin), the arithmetic shared by the CPU reference and the CUDA kernel; plain C++.
//
// fp32 operation order (that of core/quant/hadamard.cc's ApplyHadamard followed by core/quant/rounding.cc's
// quantization, so the codes are bit-identical to that path's):
//   1. Sylvester factor: stages h = 1, 2, 4, ..., M/2 in turn; stage h pairs positions j and j + h of each group
//      of 2h (groups tile the row, so they never straddle two blocks) as (lo + hi, lo − hi).
//   2. Block factor (b > 1): out[c'·M + j] = Σ_c H_b[c][c']·v[c·M + j] as acc = ±v_0, then acc ± v_c for
//      ascending c (x − v equals x + (−1)·v exactly, so this is the path's multiply-by-sign-then-add).
//   3. t = out · norm (norm = fp32(1/√d)), q = t / fp32(s_oin) (true division), r = RHAZ(q) (roundf, exactly
//      RoundTo's trunc-and-compare rule).
//   4. Saturating: clamp(r, -128, 127); wrapping: r clamped to the int32 range (as a GPU's conversion saturates),
//      its low byte read as two's complement. NaN gives 0 either way (what the LibTorch path's float→int
//      conversion gives on x86 and CUDA). An element counts as an overflow when r < -128 or r > 127.
// The CPU file is compiled with -ffp-contract=off and the CUDA file with -fmad=false.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"
#include "kernels/common/int8_rounding.h"
#include "kernels/hadamard/hadamard_blocks.h"

namespace layerscope {

// Layouts (row-major, contiguous): y fp32 [rows, dim], codes int8 [rows, dim].
struct HadamardQuantArgs {
  int64_t rows = 0, dim = 0;
  int64_t block = 1;                            // b; dim / block is a power of two
  uint32_t block_rows[kMaxHadamardBlock] = {};  // H_b's rows (hadamard_blocks.h), the first `block` used
  const float* y = nullptr;
  float norm = 0;   // fp32(1/√dim)
  float scale = 0;  // fp32(s_oin)
  bool wrap = false;
  int8_t* codes = nullptr;
  int64_t* overflows = nullptr;  // CUDA: when set, a device int64 the kernel adds the overflow count to
};

// Stage h's butterfly on pair p (of dim / 2) of a row: j = (p / h)·2h + p % h, by masks (h is a power of two; a
// 64-bit division would cost the kernel dozens of instructions).
LAYERSCOPE_HOST_DEVICE inline void HadamardButterfly(float* row, int64_t h, int64_t p) {
  const int64_t j = ((p & ~(h - 1)) << 1) | (p & (h - 1));
  const float lo = row[j], hi = row[j + h];
  row[j] = lo + hi;
  row[j + h] = lo - hi;
}

// The block factor on column j of a row (the values row[c·m + j], c < kBlock), in place.
template <int kBlock>
LAYERSCOPE_HOST_DEVICE inline void HadamardBlockColumn(const uint32_t* block_rows, float* row, int64_t m, int64_t j) {
  float v[kBlock];
  for (int c = 0; c < kBlock; ++c) v[c] = row[c * m + j];
  for (int c2 = 0; c2 < kBlock; ++c2) {
    float acc = ((block_rows[0] >> c2) & 1u) != 0 ? -v[0] : v[0];
    for (int c = 1; c < kBlock; ++c) acc = ((block_rows[c] >> c2) & 1u) != 0 ? acc - v[c] : acc + v[c];
    row[c2 * m + j] = acc;
  }
}

// Steps 3 and 4 for one transformed value; adds 1 to *overflows when it is one.
LAYERSCOPE_HOST_DEVICE inline int8_t HadamardQuantCode(const HadamardQuantArgs& a, float transformed, int* overflows) {
  const float r = ::roundf((transformed * a.norm) / a.scale);
  if (r < -128.0f || r > 127.0f) *overflows += 1;
  if (r != r) return 0;
  if (!a.wrap) return ClampToInt8(r);
  // 2147483520 is the largest fp32 below 2^31.
  const float clamped = r < -2147483648.0f ? -2147483648.0f : (r > 2147483520.0f ? 2147483520.0f : r);
  const int32_t i = static_cast<int32_t>(clamped);
  return static_cast<int8_t>(((i & 255) ^ 128) - 128);
}

// The CPU reference for rows [row_begin, row_end) (rows are independent); returns their overflow count
// (args.overflows is not used).
int64_t HadamardQuantCpu(const HadamardQuantArgs& args, int64_t row_begin, int64_t row_end);

// The CUDA kernel (device pointers; args.overflows, when set, a device int64), enqueued on `stream` (a
// cudaStream_t; null: the legacy default stream). No host synchronization. Only in CUDA builds.
void HadamardQuantCuda(const HadamardQuantArgs& args, void* stream);

}  // namespace layerscope
