// SelectiveScan: the Mamba-1 recurrence over time, fp32 (../shared/docs/MODES.md §1 step 6):
//   s_t = exp(delta_t * A) * s_{t-1} + delta_t * B_t * u_t ;  y_t = (sum_n s_t[n] * C_t[n] + D * u_t) * SiLU(z_t)
// for every batch b and channel e, with state s of d_state values starting at zero.
// Layouts (row-major, contiguous): u, delta, z, y: [batch, seqlen, channels]; B, C: [batch, seqlen, state];
// A: [channels, state] (already -exp(A_log)); D: [channels].
// Plain C++ so the CPU reference and the CUDA launcher share one description.
#pragma once

#include <cstdint>

namespace layerscope {

struct SelectiveScanArgs {
  int64_t batch = 0, seqlen = 0, channels = 0, state = 0;
  const float* u = nullptr;
  const float* delta = nullptr;
  const float* A = nullptr;
  const float* B = nullptr;
  const float* C = nullptr;
  const float* D = nullptr;
  const float* z = nullptr;
  float* y = nullptr;
};

// The CPU reference: one (batch) slice [batch_begin, batch_end) at a time so callers can parallelize over batches.
// Sums over the state axis in ascending n, then adds D*u, then gates: the order the CUDA kernel follows too.
void SelectiveScanCpu(const SelectiveScanArgs& args, int64_t batch_begin, int64_t batch_end);

// The CUDA kernel (device pointers, the current device), enqueued on `stream` (a cudaStream_t; null: the legacy
// default stream). Only in CUDA builds.
void SelectiveScanCuda(const SelectiveScanArgs& args, void* stream);

// Largest d_state the CUDA kernel keeps in registers.
constexpr int64_t kSelectiveScanMaxState = 64;

}  // namespace layerscope
