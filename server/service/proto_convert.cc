#include "server/service/proto_convert.h"

#include "proto/metrics_proto.h"

namespace layerscope::server {

void ToProto(const layerscope::ModelInfo& info, bool is_default, v1::ModelInfo* out) {
  out->set_name(info.name);
  out->set_is_default(is_default);
  out->set_layout(CheckpointLayoutName(info.config.layout));
  out->set_weights(info.weights);
  out->set_device(info.device);
  out->set_d_model(info.config.d_model);
  out->set_n_layer(info.config.n_layer);
  out->set_vocab_size(info.config.vocab_size);
  out->set_d_inner(info.config.d_inner);
  out->set_d_state(info.config.d_state);
  out->set_d_conv(info.config.d_conv);
  out->set_dt_rank(info.config.dt_rank);
  out->set_parameters(info.parameters);
  out->set_float_available(info.float_available);
  out->set_quantized_available(info.quantized_available);
  out->set_quantization(info.quantization);
}

void ToProto(const ModeSpec& mode, v1::ModeInfo* out) {
  out->set_name(mode.name);
  out->set_description(mode.description);
  out->set_quantized(mode.weights == WeightSet::kQuantized);
  for (const std::string& stage : mode.QuantizedStages()) out->add_quantized_stages(stage);
  if (mode.weights == WeightSet::kFloat) out->set_precision(FloatPrecisionName(mode.precision));
}

void ToProto(const layerscope::CapturePointInfo& point, v1::CapturePointInfo* out) {
  out->set_name(point.name);
  out->set_description(point.description);
  out->set_is_default(point.is_default);
}

void ToProto(const layerscope::MetricsRow& row, v1::MetricsRow* out) {
  out->set_mode(row.mode);
  out->set_layer(row.layer);
  out->set_point(CapturePointName(row.point));
  ToProto(row.metrics, out->mutable_metrics());
}

void ToProto(const CompareProgress& progress, v1::Progress* out) {
  out->set_steps_done(progress.steps_done);
  out->set_steps_total(progress.steps_total);
  out->set_stage(progress.stage);
}

namespace {

v1::JobState ToProto(jobs::JobState state) {
  switch (state) {
    case jobs::JobState::kQueued: return v1::JOB_STATE_QUEUED;
    case jobs::JobState::kRunning: return v1::JOB_STATE_RUNNING;
    case jobs::JobState::kSucceeded: return v1::JOB_STATE_SUCCEEDED;
    case jobs::JobState::kFailed: return v1::JOB_STATE_FAILED;
    case jobs::JobState::kCancelled: return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

v1::JobResume ToProto(jobs::ResumeKind resume) {
  switch (resume) {
    case jobs::ResumeKind::kNone: return v1::JOB_RESUME_NONE;
    case jobs::ResumeKind::kResumed: return v1::JOB_RESUME_RESUMED;
    case jobs::ResumeKind::kRestarted: return v1::JOB_RESUME_RESTARTED;
  }
  return v1::JOB_RESUME_NONE;
}

}  // namespace

void ToProto(const jobs::Job& job, v1::Job* out) {
  out->set_id(job.id);
  out->set_owner(job.owner);
  out->set_state(ToProto(job.state));
  out->set_created_unix_ms(job.created_ms);
  out->set_started_unix_ms(job.started_ms);
  out->set_finished_unix_ms(job.finished_ms);
  out->mutable_progress()->set_steps_done(job.steps_done);
  out->mutable_progress()->set_steps_total(job.steps_total);
  out->set_rows(job.state == jobs::JobState::kSucceeded && job.rows > 0 ? job.rows - 1 : job.rows);
  out->set_error(job.error);
  out->set_error_code(job.error_code);
  out->set_resume(ToProto(job.resume));
  out->set_interruptions(job.interruptions);
  out->set_note(job.note);
  out->set_cached_from(job.cached_from);
}

}  // namespace layerscope::server
