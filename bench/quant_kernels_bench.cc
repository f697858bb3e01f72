// Benchmark of the quantized ops' CUDA kernels (kernels/selective_scan/quant_scan.h, kernels/quant_conv1d/,
// kernels/rms_norm/, kernels/hadamard/, kernels/w8a8_epilogue/) at the mamba-130m shape of a compare-all batch (B = 10,
// L = 512, E = 1536, N = 16, K = 4, d_model 768), against the device-to-device copy bandwidth measured in the same run.
// Achieved bandwidth counts the bytes each kernel must move at least (every input read once, every output written
// once). Times are medians of CUDA-event-timed batches of calls after warm-up, over random non-zero data. The scans
// run with dt_raw and with dt's int8 codes through their tables (the tables' build included, and also alone). The
// fused Hadamard + int8 quantization is also compared with the LibTorch path it replaced (ApplyHadamard, then the
// wrapping quantization with its counting sync and the saturating one), timed the same way.
//   quant_kernels_bench [repeats]
#include <ATen/ATen.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench/cuda_timing.h"
#include "core/quant/hadamard.h"
#include "core/quant/qops.h"
#include "core/quant/rounding.h"
#include "kernels/hadamard/hadamard_quant.h"
#include "kernels/quant_conv1d/quant_conv1d.h"
#include "kernels/rms_norm/rms_norm.h"
#include "kernels/selective_scan/quant_scan.h"
#include "kernels/w8a8_epilogue/w8a8_epilogue.h"
#include "tests/kernels/hadamard_case.h"
#include "tests/support/random_values.h"

namespace layerscope {
namespace {

constexpr int64_t kBatch = 10, kLen = 512, kChannels = 1536, kState = 16, kWidth = 4, kModel = 768;

struct Row {
  std::string what;
  double ms, bytes;
};

int Run(int repeats) {
  PrintDevice();
  std::printf("shape: B=%lld L=%lld E=%lld N=%lld K=%lld d_model=%lld\n", static_cast<long long>(kBatch),
              static_cast<long long>(kLen), static_cast<long long>(kChannels), static_cast<long long>(kState),
              static_cast<long long>(kWidth), static_cast<long long>(kModel));

  const double copy_gbs = CopyCeilingGbs(repeats);

  const size_t ble = kBatch * kLen * kChannels, bln = kBatch * kLen * kState;
  std::vector<float> dt_raw = NonZeroUniform(ble, -4.0f, 1.5f, 2),
                     A = NonZeroUniform(kChannels * kState, -7.0f, -0.05f, 4);
  DeviceArray<float> u(NonZeroUniform(ble, -2.0f, 2.0f, 1)), dt(dt_raw),
      dt_bias(NonZeroUniform(kChannels, -2.0f, 1.5f, 3)), A_d(A), B(NonZeroUniform(bln, -1.5f, 1.5f, 5)),
      C(NonZeroUniform(bln, -1.5f, 1.5f, 6)), D(NonZeroUniform(kChannels, 0.2f, 1.8f, 7)),
      z(NonZeroUniform(ble, -3.0f, 3.0f, 8)), y(ble);
  QuantScanArgs scan;
  scan.batch = kBatch, scan.seqlen = kLen, scan.channels = kChannels, scan.state = kState;
  scan.u = u.get(), scan.dt_raw = dt.get(), scan.dt_bias = dt_bias.get(), scan.A = A_d.get(), scan.B = B.get();
  scan.C = C.get(), scan.D = D.get(), scan.z = z.get(), scan.y = y.get();
  const double scan_bytes = 4.0 * (4 * ble + 2 * bln + kChannels * (kState + 2));  // u, dt, z, y; B, C; A, bias, D

  std::vector<Row> rows;
  const std::vector<std::pair<const char*, void (*)(const QuantScanArgs&, void*)>> variants = {
      {"scan kernel (chunked tree)", QuantScanKernelCuda},
      {"scan framework", QuantScanFrameworkCuda},
      {"scan reference", QuantScanReferenceCuda}};
  for (const auto& [name, launch] : variants) {
    rows.push_back(
        {name, MedianDeviceMs(2, repeats, 5, [&, launch = launch](int) { launch(scan, nullptr); }), scan_bytes});
  }
  // dt as int8 codes through the tables (quant_scan.h), as the op runs it at this shape: the tables' build, then the
  // scan looking Δ and the decays up. dt is read as 1 byte instead of 4; the tables (E·256·(N + 1) floats, a
  // workspace) count only for the build alone, as written once.
  DeviceArray<int8_t> dt_q(NonZeroInt8(ble, 9));
  DeviceArray<float> tables(kChannels * kQuantScanCodes * (kState + 1));
  QuantScanArgs tabled = scan;
  tabled.dt_raw = nullptr, tabled.dt_q = dt_q.get(), tabled.dt_scale = 0.03f;
  tabled.delta_table = tables.get(), tabled.decay_table = tables.get() + kChannels * kQuantScanCodes;
  const double tabled_bytes = scan_bytes - 3.0 * ble, table_bytes = 4.0 * kChannels * kQuantScanCodes * (kState + 1);
  using Launch = void (*)(const QuantScanArgs&, void*);
  struct TabledVariant {
    const char* name;
    Launch build, scan;
  };
  const std::vector<TabledVariant> tabled_variants = {
      {"scan kernel, tables", QuantScanKernelTablesCuda, QuantScanKernelCuda},
      {"scan framework, tables", QuantScanFrameworkTablesCuda, QuantScanFrameworkCuda},
      {"scan reference, tables", QuantScanFrameworkTablesCuda, QuantScanReferenceCuda}};
  for (const TabledVariant& v : tabled_variants) {
    rows.push_back({v.name,
                    MedianDeviceMs(2, repeats, 5,
                                   [&](int) {
                                     v.build(tabled, nullptr);
                                     v.scan(tabled, nullptr);
                                   }),
                    tabled_bytes});
  }
  rows.push_back({"kernel tables alone",
                  MedianDeviceMs(2, repeats, 5, [&](int) { QuantScanKernelTablesCuda(tabled, nullptr); }),
                  table_bytes});
  rows.push_back({"framework tables alone",
                  MedianDeviceMs(2, repeats, 5, [&](int) { QuantScanFrameworkTablesCuda(tabled, nullptr); }),
                  table_bytes});

  const std::vector<int8_t> x_q = NonZeroInt8(ble, 11);
  DeviceArray<int8_t> x(x_q), w(NonZeroInt8(kChannels * kWidth, 12)), bias(NonZeroInt8(kChannels, 13)), y_q(ble);
  QuantConv1dArgs conv;
  conv.batch = kBatch, conv.seqlen = kLen, conv.channels = kChannels, conv.width = kWidth;
  conv.x = x.get(), conv.w = w.get(), conv.bias = bias.get();
  conv.ws = 0.0071f * 0.0213f, conv.s_b = 0.0039f, conv.s_out = 0.0117f;
  conv.y_int8 = y_q.get();
  rows.push_back({"conv1d+SiLU, int8 out",
                  MedianDeviceMs(2, repeats, 10, [&](int) { QuantConv1dSiluCuda(conv, nullptr); }), 2.0 * ble});
  conv.y_int8 = nullptr, conv.y_float = y.get();
  rows.push_back({"conv1d+SiLU, fp32 out",
                  MedianDeviceMs(2, repeats, 10, [&](int) { QuantConv1dSiluCuda(conv, nullptr); }), 5.0 * ble});

  const size_t bld = kBatch * kLen * kModel;
  DeviceArray<float> s(NonZeroUniform(bld, -5.0f, 4.0f, 21)), s_out(bld);
  DeviceArray<int8_t> s_q(bld);
  QuantRmsNormArgs norm;
  norm.rows = kBatch * kLen, norm.dim = kModel, norm.x = s.get(), norm.eps = 1e-5f, norm.s_out = 0.0123f;
  norm.y_int8 = s_q.get();
  rows.push_back(
      {"RMSNorm, int8 out", MedianDeviceMs(2, repeats, 10, [&](int) { QuantRmsNormCuda(norm, nullptr); }), 5.0 * bld});
  norm.y_int8 = nullptr, norm.y_float = s_out.get();
  rows.push_back(
      {"RMSNorm, fp32 out", MedianDeviceMs(2, repeats, 10, [&](int) { QuantRmsNormCuda(norm, nullptr); }), 8.0 * bld});

  // Hadamard + int8 quantization of the scan output [B·L, E] (s_oin puts a few percent of the codes out of range).
  constexpr float kHadScale = 0.02f;
  DeviceArray<float> y_scan(NonZeroUniform(ble, -2.0f, 2.0f, 31));
  DeviceArray<int8_t> had_q(ble);
  DeviceArray<int64_t> had_count(1);
  HadamardQuantArgs had;
  had.rows = kBatch * kLen, had.dim = kChannels, had.block = HadamardBaseBlock(kChannels);
  for (int64_t c = 0; c < had.block; ++c) had.block_rows[c] = HadamardBlockRows(had.block)[c];
  had.y = y_scan.get(), had.norm = static_cast<float>(1.0 / std::sqrt(static_cast<double>(kChannels)));
  had.scale = kHadScale, had.codes = had_q.get(), had.overflows = had_count.get();
  const double fused_ms = MedianDeviceMs(2, repeats, 10, [&](int) { HadamardQuantCuda(had, nullptr); });
  rows.push_back({"Hadamard+int8, fused", fused_ms, 5.0 * ble});
  const at::Tensor y_tensor =
      at::from_blob(y_scan.get(), {kBatch, kLen, kChannels}, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  const at::Tensor y_half = y_tensor.to(at::kHalf);
  // As the forward calls it: fp16 scan output converted to fp32, then the kernel (the count stays on the device).
  at::Tensor op_count;
  rows.push_back(
      {"Hadamard+int8 op, fp16 in",
       MedianDeviceMs(2, repeats, 10,
                      [&](int) { HadamardQuantInt8(y_half, kHadScale, Int8Overflow::kSaturate, &op_count); }),
       3.0 * ble});
  // The replaced path: ApplyHadamard (log2(M) butterfly stages and the block factor of LibTorch ops, the scale),
  // the wrapping quantization with its overflow count read back to the host, and the saturating quantization.
  const double libtorch_ms = MedianDeviceMs(2, repeats, 10, [&](int) {
    const at::Tensor rotated = ApplyHadamard(y_tensor);
    int64_t wrapped = 0;
    QuantizeInt8WrappingReference(rotated, kHadScale, Rounding::kHalfAwayFromZero, &wrapped);
    QuantizeInt8(rotated, kHadScale, Rounding::kHalfAwayFromZero);
  });
  rows.push_back({"Hadamard+int8, LibTorch path", libtorch_ms, 5.0 * ble});

  // W8A8 epilogue of in_proj's accumulator [B·L, 2E] = 5120 x 3072 (int32 values of a 768-term int8 product).
  const size_t acc_n = kBatch * kLen * 2 * kChannels;
  std::vector<int32_t> acc_values(acc_n);
  const std::vector<float> acc_draws = NonZeroUniform(acc_n, -3e5f, 3e5f, 41);
  for (size_t i = 0; i < acc_n; ++i) acc_values[i] = static_cast<int32_t>(acc_draws[i]);
  DeviceArray<int32_t> acc(acc_values);
  DeviceArray<int8_t> acc_q(acc_n);
  DeviceArray<uint16_t> acc_h(acc_n);
  W8A8EpilogueArgs epilogue;
  epilogue.rows = kBatch * kLen, epilogue.cols = 2 * kChannels, epilogue.acc = acc.get();
  epilogue.acc_row_stride = 2 * kChannels, epilogue.scale = 0.00313f, epilogue.y_int8 = acc_q.get();
  rows.push_back({"W8A8 epilogue, int8 out",
                  MedianDeviceMs(2, repeats, 10, [&](int) { W8A8EpilogueCuda(epilogue, nullptr); }), 5.0 * acc_n});
  epilogue.y_int8 = nullptr, epilogue.y_half = acc_h.get();
  rows.push_back({"W8A8 epilogue, fp16 out",
                  MedianDeviceMs(2, repeats, 10, [&](int) { W8A8EpilogueCuda(epilogue, nullptr); }), 6.0 * acc_n});

  std::printf("\ncopy D2D 1 GiB: %.0f GB/s (read + write)\n\n", copy_gbs);
  std::printf("| %-28s | %10s | %10s | %8s |\n", "kernel", "time us", "GB/s", "of copy");
  std::printf("| %-28s | %10s | %10s | %8s |\n", "---", "---", "---", "---");
  for (const Row& r : rows) {
    const double gbs = r.bytes / (r.ms * 1e6);
    std::printf("| %-28s | %10.1f | %10.0f | %7.1f%% |\n", r.what.c_str(), r.ms * 1e3, gbs, 100 * gbs / copy_gbs);
  }
  std::printf(
      "\nbytes: scan 16/element of [B, L, E] (u, dt_raw, z read, y written; 13 with dt's codes) + 8/element of "
      "[B, L, N] (B, C); the tables' build alone writes 4·E·256·(N + 1); conv 1 read + 1 (int8) or 4 (fp32) written; "
      "RMSNorm 4 read + 1 or 4 written; Hadamard+int8 4 "
      "(fp32) or 2 (fp16) read + 1 written, per element of [B, L, E]; W8A8 epilogue 4 read + 1 (int8) or 2 (fp16) "
      "written per element of in_proj's accumulator [B·L, 2E].\n");
  std::printf("Hadamard+int8: the fused kernel is %.1fx faster than the LibTorch path it replaced.\n",
              libtorch_ms / fused_ms);
  return 0;
}

}  // namespace
}  // namespace layerscope

int main(int argc, char** argv) {
  return layerscope::BenchMain(argc, argv, "quant_kernels_bench", 20, layerscope::Run);
}
