#include "core/model/host_tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

using testing_util::ExpectError;
using testing_util::ScratchDir;
using testing_util::WriteFile;

TEST(HostTensorTest, DTypeNamesRoundTrip) {
  for (DType dtype : {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kI16,
                      DType::kI8, DType::kU8, DType::kBool}) {
    DType parsed;
    ASSERT_TRUE(DTypeFromName(DTypeName(dtype), &parsed)) << DTypeName(dtype);
    EXPECT_EQ(parsed, dtype);
  }
  DType parsed;
  EXPECT_FALSE(DTypeFromName("F8_E4M3", &parsed));
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kI64), 8u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
}

TEST(HostTensorTest, HalfDecodesExactly) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
  EXPECT_EQ(HalfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(HalfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
}

TEST(HostTensorTest, BFloat16DecodesExactly) {
  EXPECT_EQ(BFloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(0xc0a0), -5.0f);
  EXPECT_EQ(BFloat16ToFloat(0x3eab), 0.333984375f);
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(0x7fc0)));
}

TEST(HostTensorTest, LittleEndianHelpers) {
  std::vector<uint8_t> bytes;
  AppendLittleEndian(0x0102030405060708ull, 8, &bytes);
  AppendLittleEndian(0xabcd, 2, &bytes);
  ASSERT_EQ(bytes.size(), 10u);
  EXPECT_EQ(bytes[0], 0x08);
  EXPECT_EQ(bytes[7], 0x01);
  EXPECT_EQ(LoadLittleEndian(bytes.data(), 8), 0x0102030405060708ull);
  EXPECT_EQ(LoadLittleEndian(bytes.data() + 8, 2), 0xabcdu);
  EXPECT_EQ(LoadLittleEndian(bytes.data(), 3), 0x060708u);
}

TEST(HostTensorTest, ShapeNumelAndDoubles) {
  const HostTensor t = HostTensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, -6.5f});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.ShapeString(), "[2, 3]");
  EXPECT_EQ(t.ToDoubles(), (std::vector<double>{1, 2, 3, 4, 5, -6.5}));

  HostTensor scalar = HostTensor::FromFloats({}, {0.25f});
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.ShapeString(), "[]");

  HostTensor ints;
  ints.dtype = DType::kI16;
  ints.shape = {2};
  ints.bytes = {0xff, 0xff, 0x02, 0x00};
  EXPECT_EQ(ints.ToDoubles(), (std::vector<double>{-1, 2}));

  ints.bytes.pop_back();
  ExpectError([&] { ints.ToDoubles(); }, ErrorKind::kInvalidArgument, {"I16", "[2]", "3 bytes"});
  ExpectError([] { HostTensor::FromFloats({2, 2}, {1, 2, 3}); }, ErrorKind::kInvalidArgument, {"[2, 2]"});
}

TEST(HostTensorTest, InputFileChecksEveryRange) {
  ScratchDir dir;
  WriteFile(dir / "ten", std::string("0123456789"));
  InputFile file(dir / "ten");
  EXPECT_EQ(file.size(), 10u);
  EXPECT_EQ(file.ReadBytes(7, 3, "tail"), (std::vector<uint8_t>{'7', '8', '9'}));
  ExpectError([&] { file.ReadBytes(8, 3, "the tail"); }, ErrorKind::kDataLoss, {dir / "ten", "the tail", "10 bytes"});
  ExpectError([&] { file.ReadBytes(~uint64_t{0}, 2, "wrap"); }, ErrorKind::kDataLoss, {"wrap"});
  ExpectError([&] { InputFile missing(dir / "missing"); }, ErrorKind::kNotFound, {dir / "missing"});
  ExpectError([&] { InputFile folder(dir.path()); }, ErrorKind::kNotFound, {"not a regular file"});
}

TEST(HostTensorTest, OutputFileAppearsOnlyOnCommit) {
  ScratchDir dir;
  {
    OutputFile out(dir / "f");
    out.Write("abc", 3);
    EXPECT_EQ(out.offset(), 3u);
    EXPECT_FALSE(std::filesystem::exists(dir / "f"));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));  // abandoned: the temporary file is gone too
  OutputFile out(dir / "f");
  out.Write("abc", 3);
  out.Commit();
  EXPECT_EQ(testing_util::ReadFile(dir / "f"), (std::vector<uint8_t>{'a', 'b', 'c'}));
  ExpectError([&] { OutputFile bad(dir / "no/such/folder/f"); }, ErrorKind::kNotFound, {"no/such/folder/f"});
}

}  // namespace
}  // namespace layerscope
