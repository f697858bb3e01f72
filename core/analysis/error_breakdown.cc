#include "core/analysis/error_breakdown.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/util/error.h"

namespace layerscope {

void ErrorBreakdownAccumulator::Slices::Add(int64_t i, double d2, double abs_d) {
  sum_d2[i] += d2;
  max_abs[i] = std::max(max_abs[i], abs_d);
  ++count[i];
}

ErrorProfile ErrorBreakdownAccumulator::Slices::Profile() const {
  ErrorProfile profile;
  profile.max_abs = max_abs;
  profile.count = count;
  profile.mse.resize(sum_d2.size());
  for (size_t i = 0; i < sum_d2.size(); ++i) profile.mse[i] = count[i] > 0 ? sum_d2[i] / count[i] : 0.0;
  return profile;
}

ErrorBreakdownAccumulator::ErrorBreakdownAccumulator(int64_t samples, int64_t seq_len, int64_t channels)
    : samples_(samples),
      seq_len_(seq_len),
      channels_(channels),
      per_sample_(samples),
      per_position_(seq_len),
      per_channel_(channels),
      channel_sum_r2_(channels, 0) {
  abs_diffs_.reserve(static_cast<size_t>(samples * seq_len * channels));
}

void ErrorBreakdownAccumulator::Add(const float* ref, const float* mode, int64_t batch) {
  if (batch < 0 || next_sample_ + batch > samples_) {
    throw Error(ErrorKind::kInvalidArgument, "breakdown: " + std::to_string(next_sample_ + batch) +
                                                 " samples added, more than the " + std::to_string(samples_) +
                                                 " declared");
  }
  for (int64_t s = 0; s < batch; ++s) {
    const int64_t sample = next_sample_ + s;
    for (int64_t t = 0; t < seq_len_; ++t) {
      const int64_t row = (s * seq_len_ + t) * channels_;
      for (int64_t c = 0; c < channels_; ++c) {
        const double r = ref[row + c], m = mode[row + c];
        if (!std::isfinite(r) || !std::isfinite(m)) continue;
        const double d = m - r;
        const double d2 = d * d, abs_d = std::abs(d);
        sum_d2_ += d2;
        max_abs_ = std::max(max_abs_, abs_d);
        ++count_;
        per_sample_.Add(sample, d2, abs_d);
        per_position_.Add(t, d2, abs_d);
        per_channel_.Add(c, d2, abs_d);
        channel_sum_r2_[c] += r * r;
        abs_diffs_.push_back(static_cast<float>(abs_d));
      }
    }
  }
  next_sample_ += batch;
}

ErrorBreakdown ErrorBreakdownAccumulator::Finish(const BreakdownOptions& options) {
  if (next_sample_ != samples_) {
    throw Error(ErrorKind::kInvalidArgument,
                "breakdown: " + std::to_string(next_sample_) + " of " + std::to_string(samples_) + " samples added");
  }
  if (options.top_k < 0) {
    throw Error(ErrorKind::kInvalidArgument, "top_k must not be negative, got " + std::to_string(options.top_k));
  }
  ErrorBreakdown breakdown;
  breakdown.channels = channels_;
  breakdown.count = count_;
  breakdown.mse = count_ > 0 ? sum_d2_ / count_ : 0.0;
  breakdown.max_abs = max_abs_;
  breakdown.per_sample = per_sample_.Profile();
  breakdown.per_position = per_position_.Profile();
  breakdown.per_channel = per_channel_.Profile();

  std::vector<int> order(channels_);
  for (int c = 0; c < channels_; ++c) order[c] = c;
  const size_t k = std::min<size_t>(order.size(), static_cast<size_t>(options.top_k));
  const std::vector<double>& mse = breakdown.per_channel.mse;
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return mse[a] != mse[b] ? mse[a] > mse[b] : a < b; });
  for (size_t i = 0; i < k; ++i) {
    const int c = order[i];
    const int64_t n = breakdown.per_channel.count[c];
    breakdown.top_channels.push_back(
        {c, mse[c], breakdown.per_channel.max_abs[c], n > 0 ? std::sqrt(channel_sum_r2_[c] / n) : 0.0});
  }
  breakdown.histogram = MakeAbsDiffHistogram(abs_diffs_, options.histogram_bins, options.percentiles);
  return breakdown;
}

}  // namespace layerscope
