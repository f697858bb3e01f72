// GPU: the CUDA selective scan against its CPU reference on the same random inputs, at odd sizes.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/selective_scan/selective_scan.h"
#include "tests/kernels/scan_case.h"

namespace layerscope {
namespace {

// A device copy of a host vector, freed with the object.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<float>& host) : size_(host.size()) {
    EXPECT_EQ(cudaMalloc(&ptr_, std::max<size_t>(1, size_) * sizeof(float)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(ptr_, host.data(), size_ * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  float* get() const { return static_cast<float*>(ptr_); }
  std::vector<float> ToHost() const {
    std::vector<float> host(size_);
    EXPECT_EQ(cudaMemcpy(host.data(), ptr_, size_ * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }

 private:
  void* ptr_ = nullptr;
  size_t size_;
};

class SelectiveScanGpuTest : public ::testing::TestWithParam<ScanShape> {};

TEST_P(SelectiveScanGpuTest, MatchesCpuReference) {
  ScanCase c(GetParam(), 31);
  c.args.y = c.y.data();
  SelectiveScanCpu(c.args, 0, c.args.batch);

  DeviceBuffer u(c.u), delta(c.delta), A(c.A), B(c.B), C(c.C), D(c.D), z(c.z), y(std::vector<float>(c.y.size()));
  SelectiveScanArgs d = c.args;
  d.u = u.get(), d.delta = delta.get(), d.A = A.get(), d.B = B.get(), d.C = C.get(), d.D = D.get(), d.z = z.get();
  d.y = y.get();
  SelectiveScanCuda(d, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> got = y.ToHost();
  // The same recurrence but for its rounding (selective_scan.cu): the decay 2^(Δ·A·log2 e) on the special-function
  // unit (relative error ~|Δ·A|·2^-23 + 2^-22 against the host's correctly rounded exp(Δ·A)), the device's fused
  // multiply-adds, partial sums over states where four threads share a channel, chunk carries: a few ulps per step,
  // compounded over the recurrence whose decays are below 1; 1e-5 of the output scale bounds them with a margin.
  double scale = 0;
  for (float v : c.y) scale = std::max(scale, double(std::fabs(v)));
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - c.y[i]));
  EXPECT_LE(worst, 1e-5 * scale);
  char relative[32];
  std::snprintf(relative, sizeof relative, "%.3g", worst / scale);
  RecordProperty("max_abs_error_of_scale", relative);
}

// The kernel's variants: d_state ≤ 16 on one thread per channel when batch x channels give at least 3 warps per
// multiprocessor (10 x 1536 and 23 x 1537 do on up to 160 of them; H100 and H200 have 132), else with the sequence
// cut into 4 chunks of whole 8-step tiles (empty trailing chunks at L = 7, a partial last one at L = 100 and 2049);
// larger d_state on four threads per channel. Channels off the 128- and 32-channel blocks.
INSTANTIATE_TEST_SUITE_P(OddSizes, SelectiveScanGpuTest,
                         ::testing::Values(ScanShape{1, 1, 1, 1}, ScanShape{2, 7, 5, 3}, ScanShape{3, 33, 80, 8},
                                           ScanShape{3, 100, 33, 16}, ScanShape{1, 130, 37, 16},
                                           ScanShape{2, 61, 129, 64}, ScanShape{2, 19, 70, 17},
                                           ScanShape{23, 9, 1537, 16}, ScanShape{10, 512, 1536, 16},
                                           ScanShape{1, 2049, 65, 16}));

}  // namespace
}  // namespace layerscope
