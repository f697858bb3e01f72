#include "kernels/rms_norm/rms_norm.h"

namespace layerscope {

void QuantRmsNormCpu(const QuantRmsNormArgs& args, int64_t row_begin, int64_t row_end) {
  const int64_t D = args.dim;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* row = args.x + r * D;
    double sum = 0;
    for (int64_t d = 0; d < D; ++d) sum += static_cast<double>(row[d]) * row[d];
    const float rms = RmsOfSumOfSquares(sum, D, args.eps);
    for (int64_t d = 0; d < D; ++d) QuantRmsNormStore(args, r * D + d, rms);
  }
}

}  // namespace layerscope
