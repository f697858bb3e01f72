// Offline compare: `layerscope compare --offline DIR [--reference MODE] MODE...` computes the comparison rows from
// a folder `layerscope save` wrote (client/save.h), with the server's metric code (core/metrics'
// MetricAccumulator, plain C++ in layerscope_common), so that saves made earlier stay useful without a server.
//
// Each (mode, layer, point) saved for both the reference and the mode becomes one row, in the order a server's
// comparison sends them (modes as named, layers ascending, points in the save's order). The arrays are fed to the
// accumulator batch_size samples at a time (the save's batch size, from its stats file), the grouping a CPU server's
// comparison uses: a CPU server's rows for the same data and batch size are bit-identical. A CUDA server reduces on
// the GPU with another grouping, so its rows agree to rounding only.
#pragma once

#include <string>
#include <vector>

#include "client/compare_result.h"

namespace layerscope::client {

struct OfflineCompareOptions {
  std::string dir;
  std::string reference = "fp32";
  std::vector<std::string> modes;
  std::string layers;               // --layers: saved layers to compare ("0,-1", "0-3"; negative counts from the
                                    // end of the saved layers); empty: every saved layer
  std::vector<std::string> points;  // --points: saved points to compare; empty: every saved point
};

// The comparison as CompareResult, ready for the report writers. Throws ClientError: kExitUsage for a mode, layer
// or point the folder does not hold (naming what it holds), kExitFailure for a file that cannot be read.
CompareResult CompareOffline(const OfflineCompareOptions& options);

}  // namespace layerscope::client
