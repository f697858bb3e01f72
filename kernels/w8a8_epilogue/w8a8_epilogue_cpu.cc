#include <c10/util/Half.h>

#include "kernels/w8a8_epilogue/w8a8_epilogue.h"

namespace layerscope {

void W8A8EpilogueCpu(const W8A8EpilogueArgs& args, int64_t row_begin, int64_t row_end) {
  const int64_t C = args.cols;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int32_t* acc = args.acc + r * args.acc_row_stride;
    if (args.y_int8 != nullptr) {
      for (int64_t c = 0; c < C; ++c) args.y_int8[r * C + c] = W8A8Requantize(acc[c], args.scale);
    } else if (args.y_half != nullptr) {
      for (int64_t c = 0; c < C; ++c) args.y_half[r * C + c] = c10::Half(W8A8Dequantize(acc[c], args.scale)).x;
    } else {
      for (int64_t c = 0; c < C; ++c) args.y_float[r * C + c] = W8A8Dequantize(acc[c], args.scale);
    }
  }
}

}  // namespace layerscope
