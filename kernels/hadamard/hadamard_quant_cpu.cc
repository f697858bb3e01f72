#include <vector>

#include "kernels/hadamard/hadamard_quant.h"

namespace layerscope {
namespace {

void BlockFactor(const HadamardQuantArgs& a, float* row, int64_t m) {
  for (int64_t j = 0; j < m; ++j) {
    switch (a.block) {
      case 12: HadamardBlockColumn<12>(a.block_rows, row, m, j); break;
      case 20: HadamardBlockColumn<20>(a.block_rows, row, m, j); break;
      case 28: HadamardBlockColumn<28>(a.block_rows, row, m, j); break;
      default: break;  // b = 1: the identity
    }
  }
}

}  // namespace

int64_t HadamardQuantCpu(const HadamardQuantArgs& args, int64_t row_begin, int64_t row_end) {
  const int64_t d = args.dim, m = d / args.block;
  std::vector<float> row(static_cast<size_t>(d));
  int overflows = 0;
  int64_t total = 0;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* y = args.y + r * d;
    row.assign(y, y + d);
    for (int64_t h = 1; h < m; h *= 2) {
      for (int64_t p = 0; p < d / 2; ++p) HadamardButterfly(row.data(), h, p);
    }
    BlockFactor(args, row.data(), m);
    int8_t* codes = args.codes + r * d;
    for (int64_t i = 0; i < d; ++i) codes[i] = HadamardQuantCode(args, row[i], &overflows);
    total += overflows;
    overflows = 0;
  }
  return total;
}

}  // namespace layerscope
