#include "server/service/analysis_service.h"

#include <chrono>
#include <utility>
#include <vector>

#include "core/analysis/analysis_runs.h"
#include "core/util/error.h"
#include "server/service/localization_handler.h"
#include "server/service/model_call.h"
#include "server/service/request_validator.h"
#include "server/service/status.h"

namespace layerscope::server {
namespace {

using Clock = std::chrono::steady_clock;

// top_k, histogram_bins and percentiles of `request`, with their defaults; throws Error naming a bad field.
BreakdownOptions ValidateBreakdownOptions(const v1::BreakdownRequest& request) {
  BreakdownOptions options;
  auto in_range = [](const char* field, int value, int max, int fallback) {
    if (value < 0 || value > max) {
      throw Error(ErrorKind::kInvalidArgument, std::string(field) + ": " + std::to_string(value) + " is outside [0, " +
                                                   std::to_string(max) + "] (0: " + std::to_string(fallback) + ")");
    }
    return value == 0 ? fallback : value;
  };
  options.top_k = in_range("top_k", request.top_k(), kMaxTopK, kDefaultTopK);
  options.histogram_bins =
      in_range("histogram_bins", request.histogram_bins(), kMaxHistogramBins, kDefaultHistogramBins);
  if (request.percentiles_size() > 0) options.percentiles.clear();
  for (int i = 0; i < request.percentiles_size(); ++i) {
    const double q = request.percentiles(i);
    const std::string field = "percentiles[" + std::to_string(i) + "]: ";
    if (!(q >= 0 && q <= 100)) {
      throw Error(ErrorKind::kInvalidArgument, field + std::to_string(q) + " is outside [0, 100]");
    }
    if (i > 0 && !(q > request.percentiles(i - 1))) {
      throw Error(ErrorKind::kInvalidArgument, field + std::to_string(q) + " does not follow " +
                                                   std::to_string(request.percentiles(i - 1)) +
                                                   "; percentiles must be ascending without duplicates");
    }
    options.percentiles.push_back(q);
  }
  return options;
}

void FillSummary(const ValidatedCompare& compare, bool with_captures, Clock::time_point start, int64_t rows,
                 v1::CompareSummary* summary) {
  summary->set_model(compare.model->info.name);
  summary->set_reference_mode(compare.request.reference.name);
  for (const ModeSpec& mode : compare.request.modes) summary->add_modes(mode.name);
  if (with_captures) {
    for (int layer : compare.request.layers) summary->add_layers(layer);
    for (CapturePoint point : compare.request.points) summary->add_points(CapturePointName(point));
  }
  summary->set_samples(compare.samples);
  summary->set_seq_len(compare.seq_len);
  summary->set_batch_size(compare.request.batch_size);
  summary->set_device(compare.model->info.device);
  summary->set_server_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  summary->set_rows(rows);
}

void ToProto(const ErrorProfile& profile, v1::ErrorProfile* out) {
  out->mutable_mse()->Add(profile.mse.begin(), profile.mse.end());
  out->mutable_max_abs()->Add(profile.max_abs.begin(), profile.max_abs.end());
  out->mutable_count()->Add(profile.count.begin(), profile.count.end());
}

void ToProto(const BreakdownRow& row, v1::ErrorBreakdown* out) {
  const ErrorBreakdown& b = row.breakdown;
  out->set_mode(row.mode);
  out->set_layer(row.layer);
  out->set_point(CapturePointName(row.point));
  out->set_channels(b.channels);
  out->set_mse(b.mse);
  out->set_max_abs(b.max_abs);
  out->set_count(b.count);
  ToProto(b.per_sample, out->mutable_per_sample());
  ToProto(b.per_position, out->mutable_per_position());
  ToProto(b.per_channel, out->mutable_per_channel());
  for (const ChannelOutlier& channel : b.top_channels) {
    v1::ChannelOutlier* outlier = out->add_top_channels();
    outlier->set_channel(channel.channel);
    outlier->set_mse(channel.mse);
    outlier->set_max_abs(channel.max_abs);
    outlier->set_ref_rms(channel.ref_rms);
  }
  v1::AbsDiffHistogram* histogram = out->mutable_histogram();
  histogram->mutable_edges()->Add(b.histogram.edges.begin(), b.histogram.edges.end());
  histogram->mutable_counts()->Add(b.histogram.counts.begin(), b.histogram.counts.end());
  histogram->set_zeros(b.histogram.zeros);
  histogram->set_total(b.histogram.total);
  for (const PercentileValue& percentile : b.histogram.percentiles) {
    v1::Percentile* p = histogram->add_percentiles();
    p->set_q(percentile.q);
    p->set_value(percentile.value);
  }
}

void ToProto(const std::string& mode, const layerscope::ModelEffect& effect, v1::ModeEffect* out) {
  out->set_mode(mode);
  out->set_kl_mean(effect.kl_mean);
  out->set_kl_max(effect.kl_max);
  out->set_top1_agreement(effect.top1_agreement);
  out->set_perplexity(effect.perplexity);
  out->set_positions(effect.positions);
  out->set_nonfinite_positions(effect.nonfinite_positions);
}

std::string Describe(const ValidatedCompare& compare) {
  std::string modes;
  for (const ModeSpec& mode : compare.request.modes) modes += (modes.empty() ? "" : ",") + mode.name;
  return "model=" + compare.model->info.name + " reference=" + compare.request.reference.name + " modes=" + modes +
         " samples=" + std::to_string(compare.samples) + " seq_len=" + std::to_string(compare.seq_len) +
         " data=" + compare.data;
}

}  // namespace

AnalysisService::AnalysisService(const ServerLimits& limits, std::string data_root, const ModelRegistry* models,
                                 ModelSlots* slots, RpcMetrics* rpc_metrics, const Authenticator* authenticator)
    : state_(limits, std::move(data_root), models, slots, rpc_metrics, authenticator) {}

void AnalysisService::BeginShutdown() { state_.BeginShutdown(); }

grpc::Status AnalysisService::Breakdown(grpc::ServerContext* context, const v1::BreakdownRequest* request,
                                        v1::BreakdownResponse* response) {
  const auto start = Clock::now();
  return ServeModelCall(state_.frame, "Breakdown", context, [&](std::string* detail) {
    const RequestValidator validator(state_.models->entries(), state_.limits, state_.data_root);
    const ValidatedCompare compare = validator.Validate(request->comparison());
    const BreakdownOptions options = ValidateBreakdownOptions(*request);
    *detail = Describe(compare);
    const ModelSlots::Lease slot = state_.slots->Acquire([&] { return state_.stop.Stopping(context); });
    const std::vector<BreakdownRow> rows =
        RunBreakdowns(state_.models->model(*compare.model, slot.device()), compare.request, options,
                      [&] { return state_.stop.Stopping(context); });
    for (const BreakdownRow& row : rows) ToProto(row, response->add_breakdowns());
    FillSummary(compare, /*with_captures=*/true, start, static_cast<int64_t>(rows.size()), response->mutable_summary());
  });
}

grpc::Status AnalysisService::ModelEffect(grpc::ServerContext* context, const v1::ModelEffectRequest* request,
                                          v1::ModelEffectResponse* response) {
  const auto start = Clock::now();
  return ServeModelCall(state_.frame, "ModelEffect", context, [&](std::string* detail) {
    if (request->comparison().layers_size() > 0 || request->comparison().points_size() > 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  std::string(request->comparison().layers_size() > 0 ? "layers" : "points") +
                      ": a model effect compares the logits only; leave layers and points empty");
    }
    const RequestValidator validator(state_.models->entries(), state_.limits, state_.data_root);
    const ValidatedCompare compare = validator.Validate(request->comparison());
    if (compare.seq_len < 2) {
      throw Error(ErrorKind::kInvalidArgument, "seq_len: " + std::to_string(compare.seq_len) +
                                                   " leaves no next token to predict; a model effect needs at "
                                                   "least 2");
    }
    *detail = Describe(compare);
    const ModelSlots::Lease slot = state_.slots->Acquire([&] { return state_.stop.Stopping(context); });
    const ModelEffects effects = RunModelEffects(state_.models->model(*compare.model, slot.device()), compare.request,
                                                 [&] { return state_.stop.Stopping(context); });
    response->set_reference_perplexity(effects.reference.perplexity);
    response->set_reference_positions(effects.reference.positions);
    for (size_t m = 0; m < effects.modes.size(); ++m) {
      ToProto(compare.request.modes[m].name, effects.modes[m], response->add_effects());
    }
    FillSummary(compare, /*with_captures=*/false, start, static_cast<int64_t>(effects.modes.size()),
                response->mutable_summary());
  });
}

grpc::Status AnalysisService::Localize(grpc::ServerContext* context, const v1::LocalizeRequest* request,
                                       v1::LocalizeResponse* response) {
  const auto start = Clock::now();
  return ServeModelCall(state_.frame, "Localize", context, [&](std::string* detail) {
    const ValidatedCompare compare =
        ValidateLocalize(state_.models->entries(), state_.limits, state_.data_root, *request);
    *detail = Describe(compare);
    const ModelSlots::Lease slot = state_.slots->Acquire([&] { return state_.stop.Stopping(context); });
    const int64_t rows = RunLocalize(
        state_.models->model(*compare.model, slot.device()), compare.request,
        [&] { return state_.stop.Stopping(context); }, response);
    FillSummary(compare, /*with_captures=*/true, start, rows, response->mutable_summary());
  });
}

}  // namespace layerscope::server
