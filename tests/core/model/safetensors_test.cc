#include <gtest/gtest.h>

#include <string>

#include "core/model/safetensors_reader.h"
#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

using testing_util::ExpectError;
using testing_util::Fixture;
using testing_util::ReadFile;
using testing_util::ScratchDir;
using testing_util::WriteFile;

// A safetensors file from a header text and data bytes, for the malformed cases.
std::vector<uint8_t> RawFile(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes;
  AppendLittleEndian(header.size(), 8, &bytes);
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

HostTensor Tensor(DType dtype, std::vector<int64_t> shape) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(t.numel() * DTypeSize(dtype));
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>(i * 31 + static_cast<int>(dtype));
  return t;
}

TEST(SafetensorsTest, ReadsFixtures) {
  const auto refs = ReadSafetensors(Fixture("tests/fixtures/hf/random.safetensors"));
  ASSERT_EQ(refs.count("logits"), 1u);
  EXPECT_EQ(refs.at("logits").dtype, DType::kF32);
  EXPECT_EQ(refs.at("logits").shape, (std::vector<int64_t>{3, 29, 104}));
  EXPECT_EQ(refs.at("input_ids").dtype, DType::kI64);
  EXPECT_EQ(refs.at("input_ids").shape, (std::vector<int64_t>{3, 29}));
  EXPECT_EQ(refs.count("layers.2.mixer_output"), 1u);

  const auto embedded = ReadSafetensors(Fixture("tests/fixtures/hf/embedded.safetensors"));
  EXPECT_EQ(embedded.at("logits").shape, (std::vector<int64_t>{2, 45, 256}));

  const auto model = ReadSafetensors(Fixture("core/model/embedded/model.safetensors"));
  EXPECT_EQ(model.at("backbone.embeddings.weight").shape, (std::vector<int64_t>{256, 192}));

  const auto pairs = ReadSafetensors(Fixture("tests/fixtures/metrics/pairs.safetensors"));
  EXPECT_FALSE(pairs.empty());
  for (const auto& [key, t] : pairs) EXPECT_EQ(t.bytes.size(), t.numel() * DTypeSize(t.dtype)) << key;
}

TEST(SafetensorsTest, RoundTripsEveryDType) {
  ScratchDir dir;
  std::map<std::string, HostTensor> tensors;
  for (DType dtype : {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kI16,
                      DType::kI8, DType::kU8, DType::kBool}) {
    tensors[std::string("t.") + DTypeName(dtype)] = Tensor(dtype, {3, 5});
  }
  tensors["scalar"] = Tensor(DType::kF32, {});
  tensors["empty"] = Tensor(DType::kF16, {0, 4});
  WriteSafetensors(dir / "all.safetensors", tensors);

  const auto back = ReadSafetensors(dir / "all.safetensors");
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [key, t] : tensors) {
    ASSERT_EQ(back.count(key), 1u) << key;
    EXPECT_EQ(back.at(key).dtype, t.dtype) << key;
    EXPECT_EQ(back.at(key).shape, t.shape) << key;
    EXPECT_EQ(back.at(key).bytes, t.bytes) << key;
  }
  // The data start on an 8-byte boundary, as the reference writer aligns them.
  EXPECT_EQ(LoadLittleEndian(ReadFile(dir / "all.safetensors").data(), 8) % 8, 0u);
}

TEST(SafetensorsTest, WriterRefusesInconsistentTensors) {
  ScratchDir dir;
  HostTensor bad = Tensor(DType::kF32, {2, 2});
  bad.bytes.pop_back();
  ExpectError(
      [&] {
        WriteSafetensors(dir / "x.safetensors", {{"w", bad}});
      },
      ErrorKind::kInvalidArgument, {"\"w\"", "15 bytes", "F32 [2, 2]"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
}

TEST(SafetensorsTest, MissingFile) {
  ExpectError([] { ReadSafetensors("/nonexistent/model.safetensors"); }, ErrorKind::kNotFound,
              {"/nonexistent/model.safetensors"});
}

TEST(SafetensorsTest, TruncatedHeaderLength) {
  ScratchDir dir;
  WriteFile(dir / "short.safetensors", std::vector<uint8_t>{1, 0, 0});
  ExpectError([&] { ReadSafetensors(dir / "short.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "short.safetensors", "8-byte header length"});
}

TEST(SafetensorsTest, HeaderLengthLargerThanFile) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = RawFile("{}", {});
  bytes[0] = 0xe8;  // 1000
  bytes[1] = 0x03;
  WriteFile(dir / "long.safetensors", bytes);
  ExpectError([&] { ReadSafetensors(dir / "long.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "long.safetensors", "header length 1000 is larger than the rest of the file (2 bytes)"});
}

TEST(SafetensorsTest, BadJson) {
  ScratchDir dir;
  WriteFile(dir / "json.safetensors", RawFile("{\"w\": {", {}));
  ExpectError([&] { ReadSafetensors(dir / "json.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "json.safetensors", "header is not valid JSON"});
  WriteFile(dir / "array.safetensors", RawFile("[1, 2]", {}));
  ExpectError([&] { ReadSafetensors(dir / "array.safetensors"); }, ErrorKind::kDataLoss, {"not a JSON object"});
}

TEST(SafetensorsTest, OffsetsOutOfRange) {
  ScratchDir dir;
  WriteFile(dir / "range.safetensors",
            RawFile(R"({"a.weight":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", std::vector<uint8_t>(16)));
  ExpectError([&] { ReadSafetensors(dir / "range.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "range.safetensors", "\"a.weight\"", "data_offsets [8, 24]", "end of the data (16 bytes)"});
}

TEST(SafetensorsTest, OffsetsInconsistentWithShape) {
  ScratchDir dir;
  WriteFile(dir / "size.safetensors",
            RawFile(R"({"a.weight":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,16]}})", std::vector<uint8_t>(16)));
  ExpectError([&] { ReadSafetensors(dir / "size.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "size.safetensors", "\"a.weight\"", "data_offsets [0, 16]", "BF16", "[2, 3]", "need 12 bytes"});
  WriteFile(dir / "reversed.safetensors",
            RawFile(R"({"b":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", std::vector<uint8_t>(16)));
  ExpectError([&] { ReadSafetensors(dir / "reversed.safetensors"); }, ErrorKind::kDataLoss, {"\"b\"", "[4, 0]"});
  WriteFile(dir / "negative.safetensors",
            RawFile(R"({"c":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", std::vector<uint8_t>(16)));
  ExpectError([&] { ReadSafetensors(dir / "negative.safetensors"); }, ErrorKind::kDataLoss, {"\"c\"", "shape"});
  WriteFile(dir / "huge.safetensors",
            RawFile(R"({"d":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", {}));
  ExpectError([&] { ReadSafetensors(dir / "huge.safetensors"); }, ErrorKind::kDataLoss, {"\"d\"", "too large"});
}

TEST(SafetensorsTest, UnknownDType) {
  ScratchDir dir;
  WriteFile(dir / "dtype.safetensors",
            RawFile(R"({"__metadata__":{"format":"pt"},"q":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                    std::vector<uint8_t>(2)));
  ExpectError([&] { ReadSafetensors(dir / "dtype.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "dtype.safetensors", "\"q\"", "unknown dtype \"F8_E4M3\""});
}

TEST(SafetensorsTest, TruncatedData) {
  ScratchDir dir;
  WriteSafetensors(dir / "full.safetensors", {{"a", Tensor(DType::kF32, {10})}, {"b", Tensor(DType::kF32, {10})}});
  std::vector<uint8_t> bytes = ReadFile(dir / "full.safetensors");
  bytes.resize(bytes.size() - 5);
  WriteFile(dir / "cut.safetensors", bytes);
  ExpectError([&] { ReadSafetensors(dir / "cut.safetensors"); }, ErrorKind::kDataLoss,
              {dir / "cut.safetensors", "\"b\"", "data_offsets [40, 80]", "file truncated"});
}

}  // namespace
}  // namespace layerscope
