// Benchmark of the CUDA metrics reduction, its |d| histogram pass and the |d| selection (kernels/metrics/
// metrics_reduce.h) against the device-to-device copy bandwidth measured in the same run (../shared/docs: the
// reduction should reach 60% of it).
// Times are medians of CUDA-event-timed batches of calls after warm-up, over random non-zero data; inputs smaller than
// a few L2 sizes rotate among several copies so that the L2 cache does not serve them.
//   metrics_reduce_bench [repeats]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench/cuda_timing.h"
#include "kernels/metrics/metrics_reduce.h"

namespace layerscope {
namespace {

void* DeviceAlloc(size_t bytes) {
  void* p = nullptr;
  CheckCuda(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}

// Random (reference, mode) pairs: r uniform in +-[0.001, 2), m = r (1 + 1e-3 e), e uniform in [-1, 1).
void FillPairs(std::vector<float>& ref, std::vector<float>& mode, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto uniform = [&s] {  // xorshift64*, 24 bits
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return static_cast<float>((s * 0x2545F4914F6CDD1Dull) >> 40) * (1.0f / 16777216.0f);
  };
  for (size_t i = 0; i < ref.size(); ++i) {
    const float magnitude = 0.001f + 2 * uniform();
    ref[i] = uniform() < 0.5f ? -magnitude : magnitude;
    mode[i] = ref[i] * (1 + 1e-3f * (2 * uniform() - 1));
  }
}

struct Row {
  std::string what;
  int64_t n;
  double ms, bytes;
};

int Run(int repeats) {
  const cudaDeviceProp prop = PrintDevice();

  const double copy_gbs = CopyCeilingGbs(repeats);

  std::vector<Row> rows;
  void* workspace = DeviceAlloc(std::max(ReducePairsCudaWorkspaceBytes(), AbsDiffOrderStatisticsCudaWorkspaceBytes()));
  auto* result = static_cast<PairMoments*>(DeviceAlloc(sizeof(PairMoments)));
  float* selected = static_cast<float*>(DeviceAlloc(kMaxOrderStatistics * sizeof(float)));
  auto* histogram = static_cast<uint64_t*>(DeviceAlloc(kAbsDiffBuckets * sizeof(uint64_t)));
  CheckCuda(cudaMemset(histogram, 0, kAbsDiffBuckets * sizeof(uint64_t)), "memset");  // counts accumulate
  // 4096 pairs: next to nothing to read, so its times are each call's fixed cost (launch, the blocks' merges and
  // the last block's), which the larger sizes pay too.
  for (int64_t n : {int64_t{4096}, int64_t{10} * 512 * 1536, int64_t{64} << 20}) {
    const int sets = 12 * n < 4 * static_cast<int64_t>(prop.l2CacheSize) ? 4 : 1;  // inputs + |d| vs 4 L2s
    std::vector<float> ref(n), mode(n);
    std::vector<float*> ref_d(sets), mode_d(sets), abs_d(sets);
    for (int s = 0; s < sets; ++s) {
      FillPairs(ref, mode, 7 + s);
      ref_d[s] = static_cast<float*>(DeviceAlloc(n * sizeof(float)));
      mode_d[s] = static_cast<float*>(DeviceAlloc(n * sizeof(float)));
      abs_d[s] = static_cast<float*>(DeviceAlloc(n * sizeof(float)));
      CheckCuda(cudaMemcpy(ref_d[s], ref.data(), n * sizeof(float), cudaMemcpyHostToDevice), "upload");
      CheckCuda(cudaMemcpy(mode_d[s], mode.data(), n * sizeof(float), cudaMemcpyHostToDevice), "upload");
    }
    rows.push_back({"reduce", n,
                    MedianDeviceMs(3, repeats, 10,
                                   [&](int i) {
                                     const int s = i % sets;
                                     ReducePairsCuda(ref_d[s], mode_d[s], n, nullptr, workspace, result, nullptr);
                                   }),
                    8.0 * n});
    rows.push_back({"reduce, graph", n,
                    GraphMedianDeviceMs(repeats, 10,
                                        [&](int i, cudaStream_t stream) {
                                          const int s = i % sets;
                                          ReducePairsCuda(ref_d[s], mode_d[s], n, nullptr, workspace, result, stream);
                                        }),
                    8.0 * n});
    rows.push_back({"reduce + |d| out, graph", n,
                    GraphMedianDeviceMs(repeats, 10,
                                        [&](int i, cudaStream_t stream) {
                                          const int s = i % sets;
                                          ReducePairsCuda(ref_d[s], mode_d[s], n, abs_d[s], workspace, result, stream);
                                        }),
                    12.0 * n});
    rows.push_back({"reduce + |d| out", n,
                    MedianDeviceMs(3, repeats, 10,
                                   [&](int i) {
                                     const int s = i % sets;
                                     ReducePairsCuda(ref_d[s], mode_d[s], n, abs_d[s], workspace, result, nullptr);
                                   }),
                    12.0 * n});
    // The histogram pass (populations too large to keep): the window of shared-memory counters around the data's
    // mean |d| (~5e-4), as the comparison places it, first outside a graph (the kernel's shared-memory limit is
    // raised on its first launch); then far above it, every count a global atomic.
    rows.push_back({"reduce + histogram", n,
                    MedianDeviceMs(3, repeats, 10,
                                   [&](int i) {
                                     const int s = i % sets;
                                     ReducePairsToHistogramCuda(ref_d[s], mode_d[s], n, histogram, 5e-4f, workspace,
                                                                result, nullptr);
                                   }),
                    8.0 * n});
    for (const auto& [what, center] :
         {std::pair<const char*, float>{"reduce + histogram, graph", 5e-4f}, {"histogram, no window, graph", 1e30f}}) {
      rows.push_back({what, n,
                      GraphMedianDeviceMs(repeats, 10,
                                          [&, center = center](int i, cudaStream_t stream) {
                                            const int s = i % sets;
                                            ReducePairsToHistogramCuda(ref_d[s], mode_d[s], n, histogram, center,
                                                                       workspace, result, stream);
                                          }),
                      8.0 * n});
    }
    // What a lone call waits for: launches, kernels and the result's copy to the host, on the host's clock.
    {
      PairMoments host;
      ReducePairsCuda(ref_d[0], mode_d[0], n, nullptr, workspace, result, nullptr);
      CheckCuda(cudaMemcpy(&host, result, sizeof host, cudaMemcpyDeviceToHost), "result");
      if (host.count != n) throw std::runtime_error("reduction counted " + std::to_string(host.count));
      std::vector<double> ms(repeats);
      for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        ReducePairsCuda(ref_d[i % sets], mode_d[i % sets], n, nullptr, workspace, result, nullptr);
        CheckCuda(cudaMemcpy(&host, result, sizeof host, cudaMemcpyDeviceToHost), "result");
        ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      }
      std::nth_element(ms.begin(), ms.begin() + repeats / 2, ms.end());
      rows.push_back({"reduce, result on host", n, ms[repeats / 2], 8.0 * n});
    }
    // P50, P90, P95, P99: 8 ranks of the population the fused pass wrote.
    std::vector<int64_t> ranks;
    for (double q : {50.0, 90.0, 95.0, 99.0}) {
      const PercentileRanks r = PercentileRanksOf(n, q);
      ranks.push_back(r.lower), ranks.push_back(r.upper);
    }
    rows.push_back({"select 8 ranks", n,
                    MedianDeviceMs(3, repeats, 10,
                                   [&](int i) {
                                     AbsDiffOrderStatisticsCuda(abs_d[i % sets], n, ranks.data(), int(ranks.size()),
                                                                selected, workspace, nullptr);
                                   }),
                    4.0 * 4 * n});
    rows.push_back({"select 8 ranks, graph", n,
                    GraphMedianDeviceMs(repeats, 10,
                                        [&](int i, cudaStream_t stream) {
                                          AbsDiffOrderStatisticsCuda(abs_d[i % sets], n, ranks.data(),
                                                                     int(ranks.size()), selected, workspace, stream);
                                        }),
                    4.0 * 4 * n});
    for (int s = 0; s < sets; ++s) cudaFree(ref_d[s]), cudaFree(mode_d[s]), cudaFree(abs_d[s]);
  }

  std::printf("\ncopy D2D 1 GiB: %.0f GB/s (read + write)\n\n", copy_gbs);
  std::printf("| %-26s | %10s | %10s | %10s | %8s |\n", "what", "pairs", "time us", "GB/s", "of copy");
  std::printf("| %-26s | %10s | %10s | %10s | %8s |\n", "---", "---", "---", "---", "---");
  for (const Row& r : rows) {
    const double gbs = r.bytes / (r.ms * 1e6);
    std::printf("| %-26s | %10lld | %10.1f | %10.0f | %7.0f%% |\n", r.what.c_str(), static_cast<long long>(r.n),
                r.ms * 1e3, gbs, 100 * gbs / copy_gbs);
  }
  std::printf(
      "\nbytes: reduce 8/pair read; + |d| out 4 more written; + histogram 8/pair read (counts in shared memory and L2);"
      " select: 4 passes of 4 bytes/value read.\n");
  return 0;
}

}  // namespace
}  // namespace layerscope

int main(int argc, char** argv) {
  return layerscope::BenchMain(argc, argv, "metrics_reduce_bench", 50, layerscope::Run);
}
