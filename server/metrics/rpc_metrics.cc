#include "server/metrics/rpc_metrics.h"

#include <cstdio>

namespace layerscope::server {
namespace {

// `precise`: every digit (sums); otherwise the shortest form (bucket bounds, which are labels: "0.005").
std::string Number(double value, bool precise) {
  char text[32];
  std::snprintf(text, sizeof(text), precise ? "%.17g" : "%g", value);
  return text;
}

}  // namespace

void RpcMetrics::Record(const std::string& method, const std::string& code, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& histogram = durations_[method];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++histogram.buckets[i];
      break;
    }
  }
  ++histogram.count;
  histogram.sum += seconds;
  ++calls_[{method, code}];
}

std::string RpcMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out =
      "# HELP layerscope_rpc_duration_seconds Time from a gRPC call's arrival to its answer (streams: to the end).\n"
      "# TYPE layerscope_rpc_duration_seconds histogram\n";
  for (const auto& [method, histogram] : durations_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cumulative += histogram.buckets[i];
      out += "layerscope_rpc_duration_seconds_bucket{method=\"" + method + "\",le=\"" + Number(kBuckets[i], false) +
             "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "layerscope_rpc_duration_seconds_bucket{method=\"" + method + "\",le=\"+Inf\"} " +
           std::to_string(histogram.count) + "\n";
    out += "layerscope_rpc_duration_seconds_sum{method=\"" + method + "\"} " + Number(histogram.sum, true) + "\n";
    out += "layerscope_rpc_duration_seconds_count{method=\"" + method + "\"} " + std::to_string(histogram.count) + "\n";
  }
  out +=
      "# HELP layerscope_rpc_total gRPC calls answered, by method and status code.\n"
      "# TYPE layerscope_rpc_total counter\n";
  for (const auto& [key, count] : calls_) {
    out += "layerscope_rpc_total{method=\"" + key.first + "\",code=\"" + key.second + "\"} " + std::to_string(count) +
           "\n";
  }
  return out;
}

}  // namespace layerscope::server
