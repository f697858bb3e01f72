// Hadamard transforms of the Quamba recipe (../shared/docs/MODES.md §2.1). For d = b·2^k with a base block
// b ∈ {1, 12, 20, 28}, H_d = H_b ⊗ S_M with M = d / b: element (c·M + j, c'·M + j') = H_b[c][c']·S_M[j][j'] (the
// block index c is the major one), S_M the natural-order Sylvester matrix S[j][j'] = (-1)^popcount(j & j').
// Normalized by 1/√d; every base block is symmetric, so Ĥ_d is symmetric and its own inverse.
// Base blocks: H12 exactly as MODES.md lists it (needed to load published checkpoints); H20 and H28 from Paley's
// construction II over GF(9) and GF(13), which is symmetric (the tables in kernels/hadamard/hadamard_blocks.h,
// shared with the fused kernels). Published checkpoints of 20·2^k models may have used another H20: this one is
// right for models this server quantizes (MODES.md §2.1).
// Internal to the core library (LibTorch types).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace layerscope {

// True when d = b·2^k with b ∈ {1, 12, 20, 28}, k ≥ 0 (covers every Mamba-1 d_model and d_inner: 768, 1024,
// 1536, 2048, 2560, 3072, 4096, 5120, and the embedded model's 192 and 384).
bool HadamardSupported(int64_t d);

// The base block b used for d (1, 12, 20 or 28; powers of two use 1). Throws Error(kInvalidArgument) when
// !HadamardSupported(d).
int64_t HadamardBaseBlock(int64_t d);

// Ĥ_d as a dense [d, d] CPU matrix of `dtype` (entries ±1/√d, computed in fp64 and rounded once).
// Throws Error(kInvalidArgument) when !HadamardSupported(d).
at::Tensor HadamardMatrix(int64_t d, at::ScalarType dtype = at::kFloat);

// x · Ĥ_d along the last dimension (d = x.size(-1)), on x's device. Fast: the Sylvester factor as log2(M)
// butterfly stages, then the b×b block as a small matrix product, then the 1/√d scale. fp16/bf16/fp32 input is
// computed and returned in fp32; fp64 input in fp64. Agrees with x · HadamardMatrix(d) to within
// (log2(M) + b + 1)·2^-24·√d·max|x| per element (fp32; see the test for the derivation).
at::Tensor ApplyHadamard(const at::Tensor& x);

}  // namespace layerscope
