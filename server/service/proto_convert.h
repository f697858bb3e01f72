// Translation from the core's plain structs to the API's protobuf messages (requests go the other way through
// RequestValidator). The only place that knows both sides' field names, but for the metrics' own
// (proto/metrics_proto.h, which the client shares).
#pragma once

#include "core/capture/capture_point.h"
#include "core/compare/comparison.h"
#include "core/compare/resident_model.h"
#include "core/metrics/metrics.h"
#include "core/modes/mode_spec.h"
#include "layerscope/v1/layerscope.pb.h"
#include "server/jobs/job.h"

namespace layerscope::server {

void ToProto(const layerscope::ModelInfo& info, bool is_default, v1::ModelInfo* out);
void ToProto(const ModeSpec& mode, v1::ModeInfo* out);
void ToProto(const layerscope::CapturePointInfo& point, v1::CapturePointInfo* out);
void ToProto(const layerscope::MetricsRow& row, v1::MetricsRow* out);
void ToProto(const CompareProgress& progress, v1::Progress* out);
// Job.rows counts MetricsRows: a succeeded job's stored events end with the summary, which is not one.
void ToProto(const jobs::Job& job, v1::Job* out);

}  // namespace layerscope::server
