// ErrorBreakdown: where the error of one capture (reference r against mode m, d = m - r) lies: MSE and max |d| per
// sample, per token position and per channel, the channels with the largest MSE, and the |d| distribution.
// ErrorBreakdownAccumulator builds it batch by batch. Every sum is fp64 and added in element order (samples, then
// positions, then channels), so the same inputs give bit-identical results. Pairs where r or m is NaN or Inf are
// left out of every number, as in Metrics.
#pragma once

#include <cstdint>
#include <vector>

#include "core/analysis/abs_diff_histogram.h"

namespace layerscope {

// MSE and max |d| of slices of one capture: entry i covers slice i (a sample, a position or a channel) over every
// other index; a slice without finite pairs has 0, 0 and count 0.
struct ErrorProfile {
  std::vector<double> mse;
  std::vector<double> max_abs;
  std::vector<int64_t> count;  // finite pairs in each slice
};

struct ChannelOutlier {
  int channel = 0;
  double mse = 0;
  double max_abs = 0;
  double ref_rms = 0;  // root mean square of the reference in the channel
};

struct BreakdownOptions {
  int top_k = 10;
  int histogram_bins = 40;
  std::vector<double> percentiles = {50, 90, 95, 99, 99.9, 100};
};

struct ErrorBreakdown {
  int64_t channels = 0;
  double mse = 0;  // over every finite pair
  double max_abs = 0;
  int64_t count = 0;
  ErrorProfile per_sample;
  ErrorProfile per_position;
  ErrorProfile per_channel;
  std::vector<ChannelOutlier> top_channels;  // MSE descending, ties: lower channel first; at most top_k
  AbsDiffHistogram histogram;
};

class ErrorBreakdownAccumulator {
 public:
  // For captures of `samples` samples in total, each [seq_len, channels].
  ErrorBreakdownAccumulator(int64_t samples, int64_t seq_len, int64_t channels);

  // The next `batch` samples, in order: `ref` and `mode` are [batch, seq_len, channels], row-major. Throws
  // Error(kInvalidArgument) when they would pass the declared number of samples.
  void Add(const float* ref, const float* mode, int64_t batch);
  // Throws Error(kInvalidArgument) when fewer samples were added than declared, or options are out of range.
  ErrorBreakdown Finish(const BreakdownOptions& options);

 private:
  struct Slices {
    std::vector<double> sum_d2, max_abs;
    std::vector<int64_t> count;
    explicit Slices(int64_t n) : sum_d2(n, 0), max_abs(n, 0), count(n, 0) {}
    void Add(int64_t i, double d2, double abs_d);
    ErrorProfile Profile() const;
  };

  const int64_t samples_, seq_len_, channels_;
  int64_t next_sample_ = 0;
  double sum_d2_ = 0, max_abs_ = 0;
  int64_t count_ = 0;
  Slices per_sample_, per_position_, per_channel_;
  std::vector<double> channel_sum_r2_;
  std::vector<float> abs_diffs_;  // every finite |d| rounded to float32, for the histogram's percentiles
};

}  // namespace layerscope
