// Benchmark of the fp32 selective scan's CUDA kernel (kernels/selective_scan/selective_scan.h) against the
// device-to-device copy bandwidth measured in the same run (the target: 60% of it). The shapes are
// mamba-130m's d_inner and d_state at the sizes compare-all runs: 10 x 512 (the job), 100 x 512 and 10 x 2048
// (scaling), and one 2048-token sample (the fewest channels to spread). Achieved bandwidth counts the bytes the scan
// must move at least: u, delta, z read and y written once (16 bytes per (b, t, e)), B and C read once (8 per
// (b, t, n)). Times are medians of CUDA-event-timed batches of calls after warm-up, over random non-zero data.
//   selective_scan_bench [repeats]
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "bench/cuda_timing.h"
#include "kernels/selective_scan/selective_scan.h"
#include "tests/support/random_values.h"

namespace layerscope {
namespace {

struct Shape {
  int64_t batch, seqlen, channels, state;
};

int Run(int repeats) {
  PrintDevice();
  const double copy_gbs = CopyCeilingGbs(repeats);
  std::printf("copy D2D 1 GiB: %.0f GB/s (read + write)\n\n", copy_gbs);
  std::printf("| %-22s | %10s | %10s | %8s |\n", "B x L x E x N", "time us", "GB/s", "of copy");
  std::printf("| %-22s | %10s | %10s | %8s |\n", "---", "---", "---", "---");
  for (const Shape& s :
       {Shape{10, 512, 1536, 16}, Shape{100, 512, 1536, 16}, Shape{10, 2048, 1536, 16}, Shape{1, 2048, 1536, 16}}) {
    const size_t ble = s.batch * s.seqlen * s.channels, bln = s.batch * s.seqlen * s.state;
    DeviceArray<float> u(NonZeroUniform(ble, -2.0f, 2.0f, 1)), delta(NonZeroUniform(ble, 0.001f, 0.5f, 2)),
        z(NonZeroUniform(ble, -3.0f, 3.0f, 3)), A(NonZeroUniform(s.channels * s.state, -4.0f, -0.05f, 4)),
        B(NonZeroUniform(bln, -1.5f, 1.5f, 5)), C(NonZeroUniform(bln, -1.5f, 1.5f, 6)),
        D(NonZeroUniform(s.channels, 0.2f, 1.8f, 7)), y(ble);
    const SelectiveScanArgs args{s.batch, s.seqlen, s.channels, s.state, u.get(), delta.get(),
                                 A.get(), B.get(),  C.get(),    D.get(), z.get(), y.get()};
    const double ms = MedianDeviceMs(2, repeats, 5, [&](int) { SelectiveScanCuda(args, nullptr); });
    const double bytes = 16.0 * ble + 8.0 * bln + 4.0 * s.channels * (s.state + 1);
    const double gbs = bytes / (ms * 1e6);
    char name[64];
    std::snprintf(name, sizeof name, "%lld x %lld x %lld x %lld", static_cast<long long>(s.batch),
                  static_cast<long long>(s.seqlen), static_cast<long long>(s.channels),
                  static_cast<long long>(s.state));
    std::printf("| %-22s | %10.1f | %10.0f | %7.1f%% |\n", name, ms * 1e3, gbs, 100 * gbs / copy_gbs);
  }
  return 0;
}

}  // namespace
}  // namespace layerscope

int main(int argc, char** argv) {
  return layerscope::BenchMain(argc, argv, "selective_scan_bench", 20, layerscope::Run);
}
