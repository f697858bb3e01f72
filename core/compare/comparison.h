// Comparison: what a caller asks of a resident model (CompareRequest) and what comes back while it runs
// (CompareObserver). Plain C++; the server translates protobuf messages to and from these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/capture/capture_point.h"
#include "core/metrics/metrics.h"
#include "core/modes/mode_spec.h"

namespace layerscope {

struct CompareRequest {
  ModeSpec reference;           // usually fp32
  std::vector<ModeSpec> modes;  // compared against `reference`, in this order
  std::vector<int> layers;      // indices into the model's layers, ascending, no duplicates
  std::vector<CapturePoint> points;
  std::vector<std::vector<int32_t>> samples;  // every sample the same length
  int batch_size = 1;
};

// One finished comparison of (mode, layer, point) over every sample.
struct MetricsRow {
  std::string mode;
  int layer = 0;
  CapturePoint point = CapturePoint::kMixerInput;
  Metrics metrics;
};

struct CompareProgress {
  int64_t steps_done = 0;  // forward passes (one batch of one mode, the reference counted as a mode)
  int64_t steps_total = 0;
  std::string stage;  // e.g. "fp16 batch 3/10"
};

class CompareObserver {
 public:
  virtual ~CompareObserver() = default;
  virtual void OnProgress(const CompareProgress& progress) = 0;
  // Called once per (mode, layer, point) as soon as its metrics are final; modes in request order.
  virtual void OnRow(const MetricsRow& row) = 0;
  // Polled between forward passes; returning true stops the comparison with Error(kCancelled).
  virtual bool IsCancelled() { return false; }
};

}  // namespace layerscope
