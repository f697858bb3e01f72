#include "kernels/quant_conv1d/quant_conv1d.h"

namespace layerscope {

void QuantConv1dSiluCpu(const QuantConv1dArgs& args, int64_t row_begin, int64_t row_end) {
  for (int64_t bt = row_begin; bt < row_end; ++bt) {
    for (int64_t e = 0; e < args.channels; ++e) QuantConv1dStore(args, bt, e);
  }
}

}  // namespace layerscope
