#include "kernels/metrics/abs_diff_buckets.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {
namespace {

// Estimate of the value of rank `rank_in_bucket` among the `count` values of `bucket`: spread evenly over it.
double EstimateInBucket(uint32_t bucket, uint64_t rank_in_bucket, uint64_t count) {
  if (bucket == 0) return 0;
  if (bucket == kAbsDiffInfBucket) return std::numeric_limits<double>::infinity();
  const uint32_t index = bucket - 1;
  const int exponent = static_cast<int>(index / kAbsDiffBucketsPerBinade) + kAbsDiffMinExponent - kAbsDiffFractionBits;
  const double fraction = static_cast<double>(index % kAbsDiffBucketsPerBinade);
  const double lo = std::ldexp(kAbsDiffBucketsPerBinade + fraction, exponent);
  const double hi = std::ldexp(kAbsDiffBucketsPerBinade + fraction + 1, exponent);
  return lo + (hi - lo) * ((static_cast<double>(rank_in_bucket) + 0.5) / static_cast<double>(count));
}

}  // namespace

std::vector<double> HistogramPercentiles(const uint64_t* histogram, int64_t count, const std::vector<double>& qs) {
  std::vector<PercentileRanks> per_q;
  std::vector<uint64_t> ranks;
  for (double q : qs) {
    per_q.push_back(PercentileRanksOf(count, q));
    ranks.push_back(static_cast<uint64_t>(per_q.back().lower));
    ranks.push_back(static_cast<uint64_t>(per_q.back().upper));
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  // One walk up the buckets resolves the ranks in ascending order.
  std::vector<double> order_stats(ranks.size());
  size_t next = 0;
  uint64_t before = 0;  // values in the buckets below the current one
  for (uint32_t bucket = 0; bucket < kAbsDiffBuckets && next < ranks.size(); ++bucket) {
    const uint64_t in_bucket = histogram[bucket];
    for (; next < ranks.size() && ranks[next] < before + in_bucket; ++next) {
      order_stats[next] = EstimateInBucket(bucket, ranks[next] - before, in_bucket);
    }
    before += in_bucket;
  }
  auto value_of = [&](int64_t rank) {
    return order_stats[std::lower_bound(ranks.begin(), ranks.end(), static_cast<uint64_t>(rank)) - ranks.begin()];
  };
  std::vector<double> out;
  for (const PercentileRanks& p : per_q)
    out.push_back(InterpolatePercentile(value_of(p.lower), value_of(p.upper), p.fraction));
  return out;
}

}  // namespace layerscope
