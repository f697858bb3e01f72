// RpcMetrics: what the Prometheus endpoint reports about the gRPC handlers: per method, a latency histogram and a
// count per status code. Thread-safe; the handlers record, the endpoint's thread renders.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace layerscope::server {

class RpcMetrics {
 public:
  void Record(const std::string& method, const std::string& code, double seconds);

  // Prometheus text exposition (version 0.0.4) of layerscope_rpc_duration_seconds (histogram by method) and
  // layerscope_rpc_total (counter by method and code).
  std::string Render() const;

 private:
  // Upper bounds in seconds: from quick listings to long streamed comparisons.
  static constexpr std::array<double, 10> kBuckets = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};  // cumulative counts are formed when rendering
    uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mu_;
  std::map<std::string, Histogram> durations_;                     // by method
  std::map<std::pair<std::string, std::string>, uint64_t> calls_;  // by (method, code)
};

}  // namespace layerscope::server
