// GPU: the CUDA metrics reduction and |d| order statistics against their CPU references on the same random
// (never zero) inputs, at odd sizes up to a mamba-130m capture (10 x 512 x 1536 pairs).
// Bounds: counts, extrema, the |d| population and the order statistics bit-exact (the same float and fp64
// operations per pair, and a selection); sums within ExpectMomentsNear's summation-order bound (pair_case.h):
// the kernel adds the same terms as the CPU in another order (threads, then fixed trees) and merges per-thread
// moments with Chan's update. Determinism: a second run gives the same bits. The histogram pass: counts bucket for
// bucket those of its CPU reference (which the CPU test checks against an independent count).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/metrics/abs_diff_buckets.h"
#include "kernels/metrics/metrics_reduce.h"
#include "tests/kernels/pair_case.h"

namespace layerscope {
namespace {

// Device memory of `bytes`, filled with 0xff bytes so that anything a kernel fails to write shows.
class DeviceMemory {
 public:
  explicit DeviceMemory(size_t bytes) {
    EXPECT_EQ(cudaMalloc(&ptr_, std::max<size_t>(bytes, 16)), cudaSuccess);
    EXPECT_EQ(cudaMemset(ptr_, 0xff, std::max<size_t>(bytes, 16)), cudaSuccess);
  }
  DeviceMemory(const void* host, size_t bytes) : DeviceMemory(bytes) {
    EXPECT_EQ(cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceMemory() { cudaFree(ptr_); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  void ToHost(void* host, size_t bytes) const {
    ASSERT_EQ(cudaMemcpy(host, ptr_, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  }

 private:
  void* ptr_ = nullptr;
};

uint32_t Bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

struct GpuRun {
  PairMoments moments;
  std::vector<float> abs_diff;
};

// `offset` elements into the device copies: offset 1 takes the unaligned (scalar) path.
GpuRun ReduceOnGpu(const PairCase& c, int64_t offset) {
  const int64_t n = c.size() - offset;
  DeviceMemory ref(c.ref.data(), c.ref.size() * sizeof(float)), mode(c.mode.data(), c.mode.size() * sizeof(float));
  DeviceMemory abs_diff(c.ref.size() * sizeof(float)), workspace(ReducePairsCudaWorkspaceBytes()),
      result(sizeof(PairMoments));
  ReducePairsCuda(ref.as<float>() + offset, mode.as<float>() + offset, n, abs_diff.as<float>() + offset,
                  workspace.as<void>(), result.as<PairMoments>(), nullptr);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  GpuRun run{};
  result.ToHost(&run.moments, sizeof run.moments);
  std::vector<float> all(c.ref.size());
  abs_diff.ToHost(all.data(), all.size() * sizeof(float));
  run.abs_diff.assign(all.begin() + offset, all.end());
  return run;
}

std::vector<float> SelectOnGpu(const std::vector<float>& values, const std::vector<int64_t>& ranks) {
  DeviceMemory dev(values.data(), values.size() * sizeof(float)), out(ranks.size() * sizeof(float)),
      workspace(AbsDiffOrderStatisticsCudaWorkspaceBytes());
  AbsDiffOrderStatisticsCuda(dev.as<float>(), int64_t(values.size()), ranks.data(), int(ranks.size()), out.as<float>(),
                             workspace.as<void>(), nullptr);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> got(ranks.size());
  out.ToHost(got.data(), got.size() * sizeof(float));
  return got;
}

// Percentile ranks P50, P90, P95, P99 of `count` finite values, both ends, and a few more.
std::vector<int64_t> RanksToCheck(int64_t count) {
  std::vector<int64_t> ranks = {0, count - 1, count / 2, (count - 1) / 3};
  for (double q : {50.0, 90.0, 95.0, 99.0}) {
    const PercentileRanks r = PercentileRanksOf(count, q);
    ranks.push_back(r.lower), ranks.push_back(r.upper);
  }
  return ranks;
}

void ExpectSelectionMatchesCpu(const std::vector<float>& population, const std::vector<int64_t>& ranks) {
  std::vector<float> want(ranks.size());
  AbsDiffOrderStatisticsCpu(population.data(), int64_t(population.size()), ranks.data(), int(ranks.size()),
                            want.data());
  const std::vector<float> got = SelectOnGpu(population, ranks);
  for (size_t i = 0; i < ranks.size(); ++i) EXPECT_EQ(Bits(got[i]), Bits(want[i])) << "rank " << ranks[i];
  EXPECT_EQ(SelectOnGpu(population, ranks), got);  // determinism
}

struct GpuCase {
  int64_t n;
  bool nonfinite;  // NaN and Inf sprinkled over both sides
  int64_t offset;
};

void PrintTo(const GpuCase& c, std::ostream* os) {
  *os << c.n << (c.nonfinite ? " with NaN/Inf" : "") << (c.offset ? " unaligned" : "");
}

class MetricsReduceGpuTest : public ::testing::TestWithParam<GpuCase> {};

TEST_P(MetricsReduceGpuTest, MatchesCpuReference) {
  const GpuCase g = GetParam();
  PairCase c(g.n + g.offset, 41 + static_cast<unsigned>(g.n));
  if (g.nonfinite) {
    for (int64_t i = 0; i < c.size(); i += 101) c.ref[i] = std::numeric_limits<float>::quiet_NaN();
    for (int64_t i = 7; i < c.size(); i += 37) c.mode[i] = -std::numeric_limits<float>::infinity();
  }
  std::vector<float> want_abs(g.n);
  const PairMoments want = ReducePairsCpu(c.ref.data() + g.offset, c.mode.data() + g.offset, g.n, want_abs.data());
  const GpuRun got = ReduceOnGpu(c, g.offset);
  ExpectMomentsNear(got.moments, want);
  for (int64_t i = 0; i < g.n; ++i) ASSERT_EQ(Bits(got.abs_diff[i]), Bits(want_abs[i])) << "element " << i;

  const GpuRun again = ReduceOnGpu(c, g.offset);
  EXPECT_EQ(std::memcmp(&again.moments, &got.moments, sizeof got.moments), 0) << "not deterministic";

  ExpectSelectionMatchesCpu(got.abs_diff, RanksToCheck(want.count));
}

INSTANTIATE_TEST_SUITE_P(OddSizes, MetricsReduceGpuTest,
                         ::testing::Values(GpuCase{1, false, 0}, GpuCase{7, false, 0}, GpuCase{7, false, 1},
                                           GpuCase{4099, true, 0}, GpuCase{1000003, false, 0},
                                           GpuCase{1000003, true, 1}, GpuCase{10 * 512 * 1536, false, 0},
                                           GpuCase{10 * 512 * 1536, true, 0}));

// Populations that stress the selection: everything tied, few distinct values, values spanning every binade
// (subnormals, +inf) with excluded NaNs.
TEST(MetricsReduceGpuTest, SelectionOfTiesAndExtremes) {
  const int64_t n = 300007;
  ExpectSelectionMatchesCpu(std::vector<float>(n, 0.5f), RanksToCheck(n));
  std::mt19937 rng(5);
  std::vector<float> few(n), wide(n);
  for (auto& v : few) v = static_cast<float>(rng() % 5) * 0.25f;
  for (auto& v : wide) {
    uint32_t bits = rng() & 0x7fffffffu;
    if (bits > 0x7f800000u) bits = kExcludedAbsDiffBits;  // NaNs: excluded pairs
    std::memcpy(&v, &bits, sizeof v);
  }
  ExpectSelectionMatchesCpu(few, RanksToCheck(n));
  int64_t finite = 0;
  for (float v : wide) finite += !std::isnan(v);
  ExpectSelectionMatchesCpu(wide, RanksToCheck(finite));
}

// ---- The histogram pass ----

// Pairs for the histogram pass: a hot bulk (PairCase: |d| a few thousandths of r, in a few binades), a third of
// them all with the same |d| (one hot bucket), exact zeros, subnormal |d|, |d| far outside any window (1e4 and
// 1e-30), +inf |d| and excluded NaN/Inf pairs.
PairCase HistogramCase(int64_t n, unsigned seed) {
  PairCase c(n, seed);
  std::mt19937 rng(seed);
  for (int64_t i = 2; i < n; i += 3) c.ref[i] = 1.0f, c.mode[i] = 1.0f + 0x1p-10f;
  for (int64_t i = 0; i < n; i += 7) c.mode[i] = c.ref[i];
  for (int64_t i = 3; i < n; i += 11) {
    const uint32_t bits = 1 + rng() % 0x7fffffu;  // a subnormal
    std::memcpy(&c.mode[i], &bits, sizeof bits);
    c.ref[i] = 0;
  }
  for (int64_t i = 5; i < n; i += 13) c.mode[i] = c.ref[i] + 1e4f;
  for (int64_t i = 6; i < n; i += 17) c.ref[i] = 0, c.mode[i] = 1e-30f;
  for (int64_t i = 9; i < n; i += 101) c.ref[i] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 10; i < n; i += 103) c.mode[i] = -std::numeric_limits<float>::infinity();
  // Far outside every window. Not the first pair of a reduction: a sequential sum shifted by it (the CPU
  // reference's) keeps its sums of squares only to a few ulps of n·max(r²) (metrics_reduce.h), not of the sum.
  if (n > 2) c.ref[n / 2] = -3e38f, c.mode[n / 2] = 3e38f;
  return c;
}

struct GpuHistogram {
  PairMoments moments;
  std::vector<uint64_t> counts;
};

// The histogram pass over elements [offset, size) in `calls` consecutive pieces into one zeroed histogram.
GpuHistogram HistogramOnGpu(const PairCase& c, int64_t offset, int calls, float window_center) {
  DeviceMemory ref(c.ref.data(), c.ref.size() * sizeof(float)), mode(c.mode.data(), c.mode.size() * sizeof(float));
  DeviceMemory histogram(kAbsDiffBuckets * sizeof(uint64_t)), workspace(ReducePairsCudaWorkspaceBytes()),
      result(sizeof(PairMoments));
  EXPECT_EQ(cudaMemset(histogram.as<void>(), 0, kAbsDiffBuckets * sizeof(uint64_t)), cudaSuccess);
  GpuHistogram run{};
  const int64_t n = c.size() - offset;
  for (int k = 0; k < calls; ++k) {
    const int64_t begin = offset + n * k / calls, end = offset + n * (k + 1) / calls;
    ReducePairsToHistogramCuda(ref.as<float>() + begin, mode.as<float>() + begin, end - begin, histogram.as<uint64_t>(),
                               window_center, workspace.as<void>(), result.as<PairMoments>(), nullptr);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    PairMoments piece;
    result.ToHost(&piece, sizeof piece);
    run.moments.Merge(piece);
  }
  run.counts.resize(kAbsDiffBuckets);
  histogram.ToHost(run.counts.data(), run.counts.size() * sizeof(uint64_t));
  return run;
}

void ExpectSameCounts(const std::vector<uint64_t>& got, const std::vector<uint64_t>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t b = 0; b < want.size(); ++b) ASSERT_EQ(got[b], want[b]) << "bucket " << b;
}

class MetricsHistogramGpuTest : public ::testing::TestWithParam<GpuCase> {};

// Bucket for bucket the CPU reference's counts (integer atomics: exact in any order, hence deterministic), whatever
// the window, in one call or several; the moments bit for bit those of the reduction that writes |d| out.
TEST_P(MetricsHistogramGpuTest, MatchesCpuReference) {
  const GpuCase g = GetParam();
  const PairCase c = HistogramCase(g.n + g.offset, 43 + static_cast<unsigned>(g.n));
  std::vector<uint64_t> want(kAbsDiffBuckets, 0);
  const PairMoments want_moments =
      ReducePairsToHistogramCpu(c.ref.data() + g.offset, c.mode.data() + g.offset, g.n, want.data());

  const GpuHistogram got = HistogramOnGpu(c, g.offset, 1, 1e-3f);
  ExpectSameCounts(got.counts, want);
  ExpectMomentsNear(got.moments, want_moments);
  const GpuRun written = ReduceOnGpu(c, g.offset);
  EXPECT_EQ(std::memcmp(&got.moments, &written.moments, sizeof got.moments), 0) << "moments differ from ReducePairs";

  // No earlier batch (window around 2^-8), a window far above the bulk, and three calls accumulating.
  ExpectSameCounts(HistogramOnGpu(c, g.offset, 1, 0.0f).counts, want);
  ExpectSameCounts(HistogramOnGpu(c, g.offset, 1, 1e20f).counts, want);
  ExpectSameCounts(HistogramOnGpu(c, g.offset, 3, 1e-3f).counts, want);
}

INSTANTIATE_TEST_SUITE_P(OddSizes, MetricsHistogramGpuTest,
                         ::testing::Values(GpuCase{1, false, 0}, GpuCase{7, false, 1}, GpuCase{4099, false, 0},
                                           GpuCase{1000003, false, 1}, GpuCase{10 * 512 * 1536, false, 0},
                                           GpuCase{(int64_t{64} << 20) + 1, false, 0}));

}  // namespace
}  // namespace layerscope
