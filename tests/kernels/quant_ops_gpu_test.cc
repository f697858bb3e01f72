// GPU: the quantized ops (core/quant/qops.h) on CUDA tensors, which run the CUDA kernels (scan variants, conv1d
// + SiLU, RMSNorm, Hadamard + int8 quantization, the W8A8 epilogue) and at::_int_mm, against the same ops on CPU
// tensors, which run the CPU references: bit for bit at odd sizes (and the mamba-130m shape), on random data that is
// never zero. The references themselves are checked against fp64 in tests/core/quant/quant_ops_test.cc,
// tests/kernels/hadamard_quant_test.cc, tests/kernels/w8a8_epilogue_test.cc and tests/kernels/fp32_math_test.cc.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/quant/qops.h"
#include "core/quant/rounding.h"
#include "core/util/error.h"
#include "kernels/selective_scan/quant_scan.h"
#include "kernels/selective_scan/quant_scan_op.h"
#include "kernels/w8a8_epilogue/w8a8_epilogue_op.h"
#include "tests/core/quant/random_scan.h"
#include "tests/kernels/hadamard_case.h"
#include "tests/kernels/w8a8_epilogue_case.h"

namespace layerscope {
namespace {

at::Tensor RandomInt8(at::IntArrayRef shape, unsigned seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  at::Tensor t = at::empty(shape, at::kChar);
  int8_t* p = t.data_ptr<int8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int v = d(rng);
    p[i] = static_cast<int8_t>(v == 0 ? 1 : v);
  }
  return t;
}

at::Tensor Cuda(const at::Tensor& t) { return t.to(at::kCUDA); }

// Bit-identical: same dtype and shape, and every element's bytes equal (NaNs and signed zeros included).
void ExpectSameBits(const at::Tensor& gpu, const at::Tensor& cpu, const char* what) {
  ASSERT_TRUE(gpu.is_cuda()) << what;
  const at::Tensor g = gpu.cpu().contiguous(), c = cpu.contiguous();
  ASSERT_EQ(g.scalar_type(), c.scalar_type()) << what;
  ASSERT_EQ(g.sizes(), c.sizes()) << what;
  const auto* gb = static_cast<const uint8_t*>(g.data_ptr());
  const auto* cb = static_cast<const uint8_t*>(c.data_ptr());
  const int64_t bytes = g.numel() * static_cast<int64_t>(g.element_size());
  int64_t first = -1, count = 0;
  for (int64_t i = 0; i < bytes; ++i) {
    if (gb[i] != cb[i]) {
      count += 1;
      if (first < 0) first = i / g.element_size();
    }
  }
  EXPECT_EQ(count, 0) << what << ": first differing element " << first << " (GPU "
                      << g.reshape({-1})[first < 0 ? 0 : first].item<double>() << ", CPU "
                      << c.reshape({-1})[first < 0 ? 0 : first].item<double>() << ")";
}

SsmInputs ToCuda(const SsmInputs& in) {
  SsmInputs out = in;
  for (at::Tensor* t : {&out.u, &out.dt_raw, &out.dt_bias, &out.A, &out.Bm, &out.Cm, &out.D, &out.z, &out.dt_q}) {
    if (t->defined()) *t = Cuda(*t);
  }
  return out;
}

class QuantScanGpuTest : public ::testing::TestWithParam<ScanShape> {};

TEST_P(QuantScanGpuTest, EveryVariantMatchesItsCpuReferenceBitForBit) {
  const SsmInputs cpu = RandomScan(GetParam(), 500);
  const SsmInputs gpu = ToCuda(cpu);
  for (SsmArithmetic a : {SsmArithmetic::kKernel, SsmArithmetic::kFramework, SsmArithmetic::kReference}) {
    SCOPED_TRACE(static_cast<int>(a));
    at::Tensor cpu_state, gpu_state;
    const at::Tensor want = SsmScan(cpu, a, &cpu_state);
    const at::Tensor got = SsmScan(gpu, a, &gpu_state);
    ExpectSameBits(got, want, "y");
    ExpectSameBits(gpu_state, cpu_state, "last_state");
    // Without last_state the kernel skips its stores; y is unchanged.
    ExpectSameBits(SsmScan(gpu, a), want, "y without last_state");
  }
}

// dt as int8 codes, through the tables: the tabled kernels (QuantScan with codes: tables at every size) and
// SsmScan (tables from kQuantScanTableMinSteps = 1024 steps per channel, the codes dequantized below) give the bits
// of the CPU references computing Δ and the decays from dt_raw = Dequantize(codes).
static_assert(kQuantScanTableMinSteps == 1024, "the shapes below straddle 1024 steps per channel");

TEST_P(QuantScanGpuTest, DtCodesThroughTablesMatchTheCpuReferenceBitForBit) {
  const SsmInputs coded = RandomCodedScan(GetParam(), 600);
  SsmInputs plain = coded;
  plain.dt_q = at::Tensor();
  plain.dt_raw = Dequantize(coded.dt_q, coded.dt_scale);
  const SsmInputs gpu = ToCuda(coded);
  for (SsmArithmetic a : {SsmArithmetic::kKernel, SsmArithmetic::kFramework, SsmArithmetic::kReference}) {
    SCOPED_TRACE(static_cast<int>(a));
    at::Tensor cpu_state, tabled_state, scan_state;
    const at::Tensor want = SsmScan(plain, a, &cpu_state);
    const at::Tensor tabled = QuantScan(a, gpu.u, at::Tensor(), gpu.dt_q, static_cast<float>(gpu.dt_scale), gpu.dt_bias,
                                        gpu.A, gpu.Bm, gpu.Cm, gpu.D, gpu.z, &tabled_state);
    ExpectSameBits(tabled, want, "y, tables");
    ExpectSameBits(tabled_state, cpu_state, "last_state, tables");
    ExpectSameBits(SsmScan(gpu, a, &scan_state), want, "y, SsmScan");
    ExpectSameBits(scan_state, cpu_state, "last_state, SsmScan");
    ExpectSameBits(SsmScan(gpu, a), want, "y without last_state, SsmScan");
  }
}

// B = 3 and odd channel counts; L = 1, 17, 300 and 513 (the kernel variant's one-warp tree at L <= 512, its edge),
// 1000 (the two-warp tree), 2049 (one step into a second 2048-step chunk) and 4100 (a third chunk); d_state 16 (the
// model's), 5, 33 and 64 (the other kernel instantiations and the largest state the kernels hold); the mamba-130m
// shape. For dt's codes, B·L on both sides of kQuantScanTableMinSteps (1024): 3, 51, 600 below; 1026 (N = 64),
// 2100 (odd N = 33), 3000 and more above.
INSTANTIATE_TEST_SUITE_P(OddSizes, QuantScanGpuTest,
                         ::testing::Values(ScanShape{3, 1, 37, 16}, ScanShape{3, 17, 37, 16}, ScanShape{3, 17, 5, 5},
                                           ScanShape{3, 2049, 37, 16}, ScanShape{2, 300, 41, 33},
                                           ScanShape{3, 1000, 37, 16}, ScanShape{2, 513, 7, 64},
                                           ScanShape{3, 700, 19, 33}, ScanShape{3, 4100, 1536, 16},
                                           ScanShape{10, 512, 1536, 16}));

TEST(QuantScanArgsGpuTest, DtCodesOnAnotherDeviceAreRefused) {
  SsmInputs gpu = ToCuda(RandomCodedScan(ScanShape{1, 5, 3, 2}, 1));
  gpu.dt_q = gpu.dt_q.cpu();
  try {
    SsmScan(gpu, SsmArithmetic::kKernel);
    FAIL() << "SsmScan accepted dt_q on the CPU";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(std::string(e.what()), "SsmScan: dt_q must be on u's device (cuda:0), got cpu");
  }
}

struct ConvShape {
  int64_t B, L, E, K;
};
void PrintTo(const ConvShape& s, std::ostream* os) { *os << s.B << "x" << s.L << "x" << s.E << "x" << s.K; }

class QuantConvGpuTest : public ::testing::TestWithParam<ConvShape> {};

TEST_P(QuantConvGpuTest, FloatAndInt8MatchTheCpuReferenceBitForBit) {
  const ConvShape s = GetParam();
  const at::Tensor x = RandomInt8({s.B, s.L, s.E}, 61), w = RandomInt8({s.E, s.K}, 62), b = RandomInt8({s.E}, 63);
  const double s_x = 0.0213, s_w = 0.0071, s_b = 0.0039, s_out = 0.0117;
  ExpectSameBits(QConv1dSiluFloat(Cuda(x), Cuda(w), Cuda(b), s_x, s_w, s_b), QConv1dSiluFloat(x, w, b, s_x, s_w, s_b),
                 "fp32");
  ExpectSameBits(QConv1dSiluInt8(Cuda(x), Cuda(w), Cuda(b), s_x, s_w, s_b, s_out),
                 QConv1dSiluInt8(x, w, b, s_x, s_w, s_b, s_out), "int8");
}

INSTANTIATE_TEST_SUITE_P(OddSizes, QuantConvGpuTest,
                         ::testing::Values(ConvShape{3, 1, 37, 4}, ConvShape{3, 17, 37, 4}, ConvShape{3, 2049, 1536, 4},
                                           ConvShape{2, 9, 5, 1}, ConvShape{1, 3, 7, 6}, ConvShape{10, 512, 1536, 4}));

TEST(QuantRmsNormGpuTest, FloatAndInt8MatchTheCpuReferenceBitForBit) {
  // D = 768 (mamba-130m), 37, and 2500 (more than one 1024-value tile).
  for (int64_t d : {768, 37, 2500}) {
    SCOPED_TRACE(d);
    const at::Tensor s = Uniform({3, 17, d}, -5.0f, 4.0f, 71);
    ExpectSameBits(QRmsNormFloat(Cuda(s), 1e-5), QRmsNormFloat(s, 1e-5), "fp32");
    ExpectSameBits(QRmsNormInt8(Cuda(s), 1e-5, 0.0123), QRmsNormInt8(s, 1e-5, 0.0123), "int8");
  }
}

struct HadamardShape {
  int64_t B, L, d;
};
void PrintTo(const HadamardShape& s, std::ostream* os) { *os << s.B << "x" << s.L << "x" << s.d; }

class HadamardQuantGpuTest : public ::testing::TestWithParam<HadamardShape> {};

TEST_P(HadamardQuantGpuTest, CodesAndCountMatchTheCpuReferenceBitForBit) {
  const HadamardShape s = GetParam();
  const at::Tensor y = HadamardRows(s.B * s.L, s.d, 91).view({s.B, s.L, s.d});
  // The same rows on the device at a 4-byte offset: no float4 loads (the kernel's scalar path).
  const at::Tensor shifted =
      at::cat({at::ones({1}, at::kCUDA), Cuda(y).reshape({-1})}).narrow(0, 1, y.numel()).view(y.sizes());
  for (Int8Overflow overflow : {Int8Overflow::kSaturate, Int8Overflow::kWrap}) {
    SCOPED_TRACE(overflow == Int8Overflow::kWrap ? "wrap" : "saturate");
    at::Tensor cpu_count, gpu_count;
    const at::Tensor want = HadamardQuantInt8(y, kHadamardTestScale, overflow, &cpu_count);
    ExpectSameBits(HadamardQuantInt8(Cuda(y), kHadamardTestScale, overflow, &gpu_count), want, "codes");
    ASSERT_TRUE(gpu_count.is_cuda());
    EXPECT_EQ(gpu_count.item<int64_t>(), cpu_count.item<int64_t>());
    EXPECT_GT(cpu_count.item<int64_t>(), 0);
    // A second call adds to the same device counter.
    ExpectSameBits(HadamardQuantInt8(shifted, kHadamardTestScale, overflow, &gpu_count), want, "offset codes");
    EXPECT_EQ(gpu_count.item<int64_t>(), 2 * cpu_count.item<int64_t>());
  }
}

// The mamba-130m d_inner (1536 = 12·128) at 3 x 4100 and 10 x 512 tokens and its d_model 768; odd row counts at
// every base block family (2^k, 12·2^k, 20·2^k, 28·2^k), d = 1 and 2 (not a multiple of 4: the scalar path), and
// rows longer than 48 KiB of shared memory (28·512 and 2^14 floats: the opt-in shared memory).
INSTANTIATE_TEST_SUITE_P(OddSizes, HadamardQuantGpuTest,
                         ::testing::Values(HadamardShape{3, 4100, 1536}, HadamardShape{10, 512, 1536},
                                           HadamardShape{3, 17, 768}, HadamardShape{1, 7, 1}, HadamardShape{1, 13, 2},
                                           HadamardShape{3, 5, 1024}, HadamardShape{3, 5, 2560},
                                           HadamardShape{2, 9, 3584}, HadamardShape{1, 11, 12},
                                           HadamardShape{1, 3, 14336}, HadamardShape{1, 3, 16384}));

TEST(Int8MatmulGpuTest, ExactAtAlignedAndPaddedShapes) {
  // (rows, in, out): _int_mm's own shapes; and ones it pads (rows ≤ 16, in or out not a multiple of 8).
  const std::vector<std::array<int64_t, 3>> shapes = {{5120, 768, 3072}, {5120, 1536, 80}, {24, 48, 1536}, {5, 19, 11},
                                                      {17, 8, 8},        {1, 1, 1},        {40, 4096, 9}};
  for (const auto& [rows, in, out] : shapes) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(in) + "x" + std::to_string(out));
    const at::Tensor x = RandomInt8({rows, in}, 81), w = RandomInt8({out, in}, 82);
    ExpectSameBits(Int8MatmulInt32(Cuda(x), Cuda(w)), Int8MatmulInt32(x, w), "acc");
  }
  // Leading dimensions are kept.
  const at::Tensor x3 = RandomInt8({3, 7, 19}, 83), w3 = RandomInt8({13, 19}, 84);
  ExpectSameBits(Int8MatmulInt32(Cuda(x3), Cuda(w3)), Int8MatmulInt32(x3, w3), "acc [3, 7, 13]");
  // Extreme codes: every product 16384, sums up to 2^14·in (exact in int32, not in fp32).
  const at::Tensor big_x = at::full({33, 4096}, -128, at::kChar), big_w = at::full({16, 4096}, -128, at::kChar);
  const at::Tensor acc = Int8MatmulInt32(Cuda(big_x), Cuda(big_w));
  EXPECT_TRUE(at::equal(acc.cpu(), at::full({33, 16}, int64_t{16384} * 4096, at::kInt)));
}

TEST(W8A8EpilogueGpuTest, MatchesTheCpuReferenceBitForBit) {
  // (rows, cols): mamba-130m's in_proj and dt_proj accumulators at the compare shape (5120 tokens), odd sizes,
  // columns not a multiple of 4 (the scalar path), and more rows than the grid's 65535 (its row stride).
  const std::vector<std::array<int64_t, 2>> shapes = {{5120, 3072}, {5120, 1536}, {37, 52},  {37, 53},
                                                      {1, 1},       {3, 5},       {70001, 4}};
  for (const auto& [rows, cols] : shapes) {
    const at::Tensor acc = EpilogueAccumulators(rows, cols, static_cast<unsigned>(rows + cols));
    // Also read in place from a wider matrix (row stride cols + 8, as _int_mm's padded result: the vector path
    // where cols % 4 == 0), and one element off its 16-byte alignment (the scalar path).
    const at::Tensor aligned = Cuda(at::zeros({rows, cols + 8}, at::kInt)).narrow(1, 0, cols);
    const at::Tensor shifted = Cuda(at::zeros({rows, cols + 8}, at::kInt)).narrow(1, 1, cols);
    aligned.copy_(acc);
    shifted.copy_(acc);
    const std::vector<at::Tensor> layouts = {Cuda(acc), aligned, shifted};
    const bool large = rows * cols > 1000000;
    const std::vector<float> scales = large ? std::vector<float>{0.5f, 0.00313f} : EpilogueScales();
    for (float scale : scales) {
      for (at::ScalarType out : {at::kChar, at::kHalf, at::kFloat}) {
        const std::string what = std::to_string(rows) + "x" + std::to_string(cols) + " scale " + std::to_string(scale) +
                                 " " + c10::toString(out);
        const at::Tensor want = W8A8Epilogue(acc, scale, out);
        for (const at::Tensor& a : layouts) ExpectSameBits(W8A8Epilogue(a, scale, out), want, what.c_str());
      }
    }
  }
}

TEST(W8A8EpilogueGpuTest, LinearsMatchTheCpuPathBitForBit) {
  // (rows, in, out): in_proj at the compare shape, dt_proj, x_proj, and shapes _int_mm pads (the epilogue then
  // reads a narrowed accumulator).
  const std::vector<std::array<int64_t, 3>> shapes = {{5120, 768, 3072}, {5120, 48, 1536}, {5120, 1536, 80},
                                                      {5, 19, 11},       {24, 48, 1536},   {17, 8, 8}};
  for (const auto& [rows, in, out] : shapes) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(in) + "x" + std::to_string(out));
    const at::Tensor x = RandomInt8({rows, in}, 85), w = RandomInt8({out, in}, 86);
    const at::Tensor xc = Cuda(x), wc = Cuda(w);
    ExpectSameBits(W8A8LinearInt8(xc, wc, 0.00313), W8A8LinearInt8(x, w, 0.00313), "int8");
    ExpectSameBits(W8A8LinearFloat(xc, wc, 3.1e-5, at::kHalf), W8A8LinearFloat(x, w, 3.1e-5, at::kHalf), "fp16");
    ExpectSameBits(W8A8LinearFloat(xc, wc, 3.1e-5, at::kFloat), W8A8LinearFloat(x, w, 3.1e-5, at::kFloat), "fp32");
    EXPECT_TRUE(at::equal(W8A8LinearInt8(xc, wc, 0.00313), W8A8LinearInt8(xc, wc, 0.00313)));
  }
}

TEST(QuantOpsGpuTest, RepeatedRunsAreBitIdentical) {
  const SsmInputs gpu = ToCuda(RandomScan(ScanShape{2, 100, 64, 16}, 900));
  for (SsmArithmetic a : {SsmArithmetic::kKernel, SsmArithmetic::kFramework, SsmArithmetic::kReference}) {
    EXPECT_TRUE(at::equal(SsmScan(gpu, a), SsmScan(gpu, a)));
  }
  const at::Tensor y = Cuda(HadamardRows(1001, 1536, 92));
  at::Tensor first, second;
  EXPECT_TRUE(at::equal(HadamardQuantInt8(y, kHadamardTestScale, Int8Overflow::kWrap, &first),
                        HadamardQuantInt8(y, kHadamardTestScale, Int8Overflow::kWrap, &second)));
  EXPECT_TRUE(at::equal(first, second));
}

}  // namespace
}  // namespace layerscope
