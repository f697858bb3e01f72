// The base blocks H_b (b ∈ {1, 12, 20, 28}) of the Hadamard transforms (../shared/docs/MODES.md §2.1), the one
// copy that the core library (core/quant/hadamard.cc) and the fused Hadamard kernels (hadamard_quant.h) read.
// Row c of H_b is a bit mask: bit c' set where H_b[c][c'] = −1, clear where it is +1. Every block is symmetric.
//   H12: exactly the matrix MODES.md lists (published Quamba checkpoints were rotated with it).
//   H20, H28: Paley's construction II over GF(9) and GF(13), which is symmetric (tests/core/quant/quant_ops_test.cc
//   rebuilds them from the construction). Published checkpoints of 20·2^k models may have used another H20.
// Plain C++; host-side constants (kernels receive the rows they need in their argument struct).
#pragma once

#include <cstdint>

namespace layerscope {

constexpr int kMaxHadamardBlock = 28;

constexpr uint32_t kHadamardBlock1[1] = {0x0};

constexpr uint32_t kHadamardBlock12[12] = {0x002, 0xaab, 0x3c8, 0x96e, 0xf20, 0x5ba,
                                           0xc8c, 0x6e6, 0x23c, 0xb96, 0x8f0, 0xe5a};

constexpr uint32_t kHadamardBlock20[20] = {0x00002, 0xaaaab, 0xf3c08, 0x596ae, 0xcf320, 0x659ba, 0x3cf80,
                                           0x965ea, 0xf02f0, 0x5ab5a, 0xcc8cc, 0x66e66, 0x3e03c, 0x97a96,
                                           0x0bcf0, 0xad65a, 0x233cc, 0xb9966, 0x80f3c, 0xea596};

constexpr uint32_t kHadamardBlock28[28] = {0x0000002, 0xaaaaaab, 0x30ff0c8, 0x9a55a6e, 0xc3fc320, 0x69569ba, 0x0ff0c8c,
                                           0xa55a6e6, 0x3fc3230, 0x9569b9a, 0xff0c8c0, 0x55a6e6a, 0xfc3230c, 0x569b9a6,
                                           0xf0c8c3c, 0x5a6e696, 0xc3230fc, 0x69b9a56, 0x0c8c3fc, 0xa6e6956, 0x3230ff0,
                                           0x9b9a55a, 0xc8c3fc0, 0x6e6956a, 0x230ff0c, 0xb9a55a6, 0x8c3fc30, 0xe69569a};

// The rows of H_b, or null when b is not 1, 12, 20 or 28.
inline const uint32_t* HadamardBlockRows(int64_t b) {
  switch (b) {
    case 1: return kHadamardBlock1;
    case 12: return kHadamardBlock12;
    case 20: return kHadamardBlock20;
    case 28: return kHadamardBlock28;
    default: return nullptr;
  }
}

// H_b[c][c'] as ±1, for a row mask of HadamardBlockRows(b).
inline int HadamardBlockSign(uint32_t row, int64_t c2) { return ((row >> c2) & 1u) != 0 ? -1 : 1; }

}  // namespace layerscope
