// ToProto for the comparison metrics (core/metrics/metrics.h, plain C++) as the API's v1.Metrics: one conversion for
// the server's rows and the client's `compare --offline`, in a library that needs neither LibTorch nor the core.
#pragma once

#include "core/metrics/metrics.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope {

void ToProto(const Metrics& metrics, v1::Metrics* out);

}  // namespace layerscope
