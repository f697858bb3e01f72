#include "kernels/common/cuda_stream.h"

#include <c10/cuda/CUDAStream.h>

namespace layerscope {

void* CurrentCudaStream(const at::Tensor& on) { return c10::cuda::getCurrentCUDAStream(on.device().index()).stream(); }

}  // namespace layerscope
