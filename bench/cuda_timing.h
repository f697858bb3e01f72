// Timing helpers of the CUDA benchmarks: error checks, device buffers and CUDA-event medians.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace layerscope {

inline void CheckCuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

// A device copy of a host vector (or `count` uninitialized elements), freed with the object.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) {
    CheckCuda(cudaMalloc(&ptr_, std::max<size_t>(1, count) * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    CheckCuda(cudaMemcpy(ptr_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(ptr_); }
  T* get() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return count_ * sizeof(T); }

 private:
  void* ptr_ = nullptr;
  size_t count_;
};

// Median over `repeats` of the device time per call of `batch` back-to-back calls of `work(call index)`, timed with
// CUDA events on the legacy default stream after `warmup` calls: the device's time per call, as when a job enqueues
// many kernels (the launch latency of a lone call is not in it).
inline double MedianDeviceMs(int warmup, int repeats, int batch, const std::function<void(int)>& work) {
  cudaEvent_t start, stop;
  CheckCuda(cudaEventCreate(&start), "event");
  CheckCuda(cudaEventCreate(&stop), "event");
  int call = 0;
  for (int i = 0; i < warmup; ++i) work(call++);
  std::vector<float> ms(repeats);
  for (int i = 0; i < repeats; ++i) {
    CheckCuda(cudaEventRecord(start), "record");
    for (int b = 0; b < batch; ++b) work(call++);
    CheckCuda(cudaEventRecord(stop), "record");
    CheckCuda(cudaEventSynchronize(stop), "sync");
    CheckCuda(cudaEventElapsedTime(&ms[i], start, stop), "elapsed");
    ms[i] /= batch;
  }
  CheckCuda(cudaGetLastError(), "kernels");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::nth_element(ms.begin(), ms.begin() + repeats / 2, ms.end());
  return ms[repeats / 2];
}

// The same with the batch captured once in a CUDA graph and replayed: the device's time per call without the host's
// launch gaps, which dominate when one call's work is a few tens of microseconds.
inline double GraphMedianDeviceMs(int repeats, int batch, const std::function<void(int, cudaStream_t)>& work) {
  cudaStream_t stream;
  CheckCuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CheckCuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
  for (int b = 0; b < batch; ++b) work(b, stream);
  CheckCuda(cudaStreamEndCapture(stream, &graph), "capture");
  CheckCuda(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  cudaEvent_t start, stop;
  CheckCuda(cudaEventCreate(&start), "event");
  CheckCuda(cudaEventCreate(&stop), "event");
  for (int i = 0; i < 2; ++i) CheckCuda(cudaGraphLaunch(exec, stream), "replay");
  std::vector<float> ms(repeats);
  for (int i = 0; i < repeats; ++i) {
    CheckCuda(cudaEventRecord(start, stream), "record");
    CheckCuda(cudaGraphLaunch(exec, stream), "replay");
    CheckCuda(cudaEventRecord(stop, stream), "record");
    CheckCuda(cudaEventSynchronize(stop), "sync");
    CheckCuda(cudaEventElapsedTime(&ms[i], start, stop), "elapsed");
    ms[i] /= batch;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  std::nth_element(ms.begin(), ms.begin() + repeats / 2, ms.end());
  return ms[repeats / 2];
}

// The current device's properties, after printing the ones the benchmarks' figures depend on.
inline cudaDeviceProp PrintDevice() {
  int device = 0;
  cudaDeviceProp prop;
  CheckCuda(cudaGetDevice(&device), "device");
  CheckCuda(cudaGetDeviceProperties(&prop, device), "properties");
  std::printf("device: %s, %d SMs, L2 %d MiB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  return prop;
}

// The ceiling the kernels are measured against: the device-to-device copy bandwidth of a 1 GiB cudaMemcpy on the
// legacy default stream, in GB/s of bytes read plus bytes written.
inline double CopyCeilingGbs(int repeats) {
  const size_t bytes = size_t{1} << 30;
  DeviceArray<char> src(bytes), dst(bytes);
  CheckCuda(cudaMemset(src.get(), 0x5a, bytes), "memset");
  const double ms = MedianDeviceMs(3, repeats, 1, [&](int) {
    CheckCuda(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice), "copy");
  });
  return 2.0 * bytes / (ms * 1e6);
}

// A benchmark's main: `NAME [repeats]` runs run(repeats); an error is reported under the benchmark's name.
inline int BenchMain(int argc, char** argv, const char* name, int default_repeats, int (*run)(int)) {
  try {
    return run(argc > 1 ? std::atoi(argv[1]) : default_repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace layerscope
