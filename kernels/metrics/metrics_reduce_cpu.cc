#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {

PairMoments ReducePairsCpu(const float* ref, const float* mode, int64_t n, float* abs_diff_out) {
  PairSums sums;
  for (int64_t i = 0; i < n; ++i) {
    const float abs_diff = sums.Add(ref[i], mode[i]);
    if (abs_diff_out != nullptr) abs_diff_out[i] = abs_diff;
  }
  return sums.Finish();
}

PairMoments ReducePairsToHistogramCpu(const float* ref, const float* mode, int64_t n, uint64_t* histogram) {
  PairSums sums;
  for (int64_t i = 0; i < n; ++i) {
    const float abs_diff = sums.Add(ref[i], mode[i]);
    uint32_t bits;
    std::memcpy(&bits, &abs_diff, sizeof bits);
    if (bits != kExcludedAbsDiffBits) ++histogram[AbsDiffBucketOf(abs_diff)];
  }
  return sums.Finish();
}

void AbsDiffOrderStatisticsCpu(const float* values, int64_t n, const int64_t* ranks, int k, float* values_out) {
  if (k < 0 || k > kMaxOrderStatistics) {
    throw std::invalid_argument("order statistics: " + std::to_string(k) + " ranks (at most " +
                                std::to_string(kMaxOrderStatistics) + ")");
  }
  std::vector<uint32_t> bits(static_cast<size_t>(n));
  if (n > 0) std::memcpy(bits.data(), values, bits.size() * sizeof(uint32_t));
  for (int i = 0; i < k; ++i) {
    if (ranks[i] < 0 || ranks[i] >= n) {
      throw std::invalid_argument("order statistics: rank " + std::to_string(ranks[i]) + " of " + std::to_string(n));
    }
    // nth_element leaves a permutation of the same multiset, so one buffer serves every rank.
    std::nth_element(bits.begin(), bits.begin() + ranks[i], bits.end());
    std::memcpy(&values_out[i], &bits[static_cast<size_t>(ranks[i])], sizeof(float));
  }
}

PercentileRanks PercentileRanksOf(int64_t count, double q) {
  const double index = static_cast<double>(count - 1) * (q / 100);
  const int64_t lower = std::min(static_cast<int64_t>(std::floor(index)), count - 1);
  return {lower, std::min(lower + 1, count - 1), index - static_cast<double>(lower)};
}

double InterpolatePercentile(double lower_value, double upper_value, double fraction) {
  if (fraction == 0) return lower_value;
  if (lower_value == upper_value || std::isinf(upper_value)) return upper_value;
  const double diff = upper_value - lower_value;
  // From the nearer end, as numpy does, so that a fraction close to 1 lands on upper_value.
  return fraction < 0.5 ? lower_value + diff * fraction : upper_value - diff * (1 - fraction);
}

}  // namespace layerscope
