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

// What one comparison may hold in memory besides the model and one batch's working set: the reference's captures,
// kept for every mode, and one mode's |d| populations, kept for exact percentiles. Both are samples x seq_len x
// channels fp32 values per (layer, point), 3.8 GB at 10 x 512 for mamba-130m's 24 layers and six default points.
// What does not fit is recomputed (the reference, batch by batch for every mode: forward passes are deterministic,
// so the rows do not change) or estimated (percentiles from a histogram, with their error bound in the Metrics).
struct CompareMemoryBudget {
  int64_t device_bytes = int64_t{16} << 30;  // on a GPU
  int64_t host_bytes = int64_t{32} << 30;    // in host memory (a CPU model; a GPU model past device_bytes)
};

// How ResidentModel::Compare will run a request within its budget.
struct ComparePlan {
  bool metrics_on_device = false;  // the metrics reduced on the GPU (else the captures go to host accumulators)
  bool reference_stored = true;    // false: the reference runs again for every mode, before the mode's batch
  int64_t forward_passes = 0;      // CompareProgress.steps_total
  // (layer, point)s of a mode whose |d| populations do not fit the budget: their percentiles come from a |d|
  // histogram (on the device or the host), with its relative error bound; the others' are exact.
  int histogram_captures = 0;
};

struct CompareProgress {
  // Forward passes (one batch of one mode, the reference counted as a mode each time it runs: once per batch, or
  // once per batch and mode when it is recomputed, ComparePlan).
  int64_t steps_done = 0;
  int64_t steps_total = 0;
  std::string stage;  // e.g. "fp16 batch 3/10"
};

// Where a comparison's time went, one entry per stage in the order the stages first ran: "forward MODE" (the
// model's forward passes of that mode, the reference included), "copies" (token ids to the device; captures made
// fp32 and, for the CPU metrics, copied to the host), "metrics" (the reductions and percentiles) and "reporting"
// (the observer's callbacks). On a GPU each interval ends when the device has finished the work queued in it (one
// wait per stage boundary, none inside a stage), so device time lands in the stage that queued it.
struct StageTime {
  std::string stage;
  double seconds = 0;
};
using CompareTimings = std::vector<StageTime>;

class CompareObserver {
 public:
  virtual ~CompareObserver() = default;
  virtual void OnProgress(const CompareProgress& progress) = 0;
  // Called once per (mode, layer, point) as soon as its metrics are final; modes in request order.
  virtual void OnRow(const MetricsRow& row) = 0;
  // Polled between forward passes; returning true stops the comparison with Error(kCancelled).
  virtual bool IsCancelled() { return false; }
  // Called once, after the last row, when the comparison succeeds.
  virtual void OnTimings(const CompareTimings& /*timings*/) {}
};

}  // namespace layerscope
