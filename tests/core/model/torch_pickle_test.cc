#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "core/model/torch_pickle_reader.h"
#include "core/model/zip_archive.h"
#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

using testing_util::ExpectError;
using testing_util::Fixture;
using testing_util::ReadFile;
using testing_util::ScratchDir;
using testing_util::WriteFile;

DType TorchDType(const std::string& name) {
  static const std::map<std::string, DType> kNames = {
      {"float64", DType::kF64}, {"float32", DType::kF32}, {"float16", DType::kF16}, {"bfloat16", DType::kBF16},
      {"int64", DType::kI64},   {"int32", DType::kI32},   {"int16", DType::kI16},   {"int8", DType::kI8},
      {"uint8", DType::kU8},    {"bool", DType::kBool}};
  return kNames.at(name);
}

// Every entry of expected.json (written by the script that made the .bin files with torch.save).
void CheckAgainstExpected(const std::string& file) {
  SCOPED_TRACE(file);
  std::ifstream in(Fixture("tests/fixtures/hf/pickle-cases/expected.json"));
  const nlohmann::json expected = nlohmann::json::parse(in);
  const std::map<std::string, StateValue> state = ReadTorchStateDict(Fixture("tests/fixtures/hf/pickle-cases/" + file));
  ASSERT_EQ(state.size(), expected.size());
  for (const auto& [key, want] : expected.items()) {
    SCOPED_TRACE(key);
    ASSERT_EQ(state.count(key), 1u);
    const StateValue& got = state.at(key);
    if (want.contains("dtype")) {
      ASSERT_TRUE(std::holds_alternative<HostTensor>(got));
      const HostTensor& t = std::get<HostTensor>(got);
      EXPECT_EQ(t.dtype, TorchDType(want["dtype"]));
      EXPECT_EQ(t.shape, want["shape"].get<std::vector<int64_t>>());
      EXPECT_EQ(t.ToDoubles(), want["values"].get<std::vector<double>>());
    } else if (want["python"] == "float") {
      ASSERT_TRUE(std::holds_alternative<double>(got));
      EXPECT_EQ(std::get<double>(got), want["value"].get<double>());
    } else if (want["python"] == "int") {
      ASSERT_TRUE(std::holds_alternative<int64_t>(got));
      EXPECT_EQ(std::get<int64_t>(got), want["value"].get<int64_t>());
    } else if (want["python"] == "bool") {
      ASSERT_TRUE(std::holds_alternative<bool>(got));
      EXPECT_EQ(std::get<bool>(got), want["value"].get<bool>());
    } else {
      ASSERT_EQ(want["python"], "str");
      ASSERT_TRUE(std::holds_alternative<std::string>(got));
      EXPECT_EQ(std::get<std::string>(got), want["value"].get<std::string>());
    }
  }
}

TEST(TorchPickleTest, ReadsOrderedDictFixture) { CheckAgainstExpected("cases.bin"); }

TEST(TorchPickleTest, ReadsPlainDictFixture) { CheckAgainstExpected("plain_dict.bin"); }

TEST(TorchPickleTest, ReadsStateSpacesCheckpoint) {
  const auto state = ReadTorchStateDict(Fixture("tests/fixtures/hf/random-ss/pytorch_model.bin"));
  ASSERT_EQ(state.count("backbone.embedding.weight"), 1u);
  const HostTensor& embedding = std::get<HostTensor>(state.at("backbone.embedding.weight"));
  EXPECT_EQ(embedding.shape, (std::vector<int64_t>{104, 40}));
  EXPECT_EQ(std::get<HostTensor>(state.at("backbone.layers.2.mixer.conv1d.weight")).shape,
            (std::vector<int64_t>{80, 1, 4}));
}

HostTensor Tensor(DType dtype, std::vector<int64_t> shape, int seed) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.bytes.resize(t.numel() * DTypeSize(dtype));
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<uint8_t>(i * 13 + seed);
  if (dtype == DType::kBool) {
    for (uint8_t& b : t.bytes) b &= 1;
  }
  return t;
}

TEST(TorchPickleTest, RoundTripsTensorsAndScalars) {
  ScratchDir dir;
  std::map<std::string, StateValue> state;
  int seed = 0;
  for (DType dtype : {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32, DType::kI16,
                      DType::kI8, DType::kU8, DType::kBool}) {
    state[std::string("tensor.") + DTypeName(dtype)] = Tensor(dtype, {2, 3, 4}, ++seed);
  }
  state["tensor.scalar"] = Tensor(DType::kF32, {}, 1);
  state["tensor.empty"] = Tensor(DType::kF16, {0, 3}, 1);
  state["float"] = 0.0123456789;
  state["float.negative_zero"] = -0.0;
  state["float.inf"] = std::numeric_limits<double>::infinity();
  for (int64_t v : {int64_t{0}, int64_t{255}, int64_t{256}, int64_t{65535}, int64_t{65536}, int64_t{-1},
                    int64_t{INT32_MIN}, int64_t{INT32_MAX} + 1, int64_t{3000000000}, int64_t{-3000000000},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    state["int." + std::to_string(v)] = v;
  }
  state["bool.true"] = true;
  state["bool.false"] = false;
  state["string"] = std::string("W8A8QMamba");
  state["none"] = PickleNone{};
  WriteTorchStateDict(dir / "state.bin", state);

  const auto back = ReadTorchStateDict(dir / "state.bin");
  ASSERT_EQ(back.size(), state.size());
  for (const auto& [key, value] : state) {
    SCOPED_TRACE(key);
    ASSERT_EQ(back.count(key), 1u);
    const StateValue& got = back.at(key);
    ASSERT_EQ(got.index(), value.index());
    if (const auto* t = std::get_if<HostTensor>(&value)) {
      EXPECT_EQ(std::get<HostTensor>(got).dtype, t->dtype);
      EXPECT_EQ(std::get<HostTensor>(got).shape, t->shape);
      EXPECT_EQ(std::get<HostTensor>(got).bytes, t->bytes);
    } else if (const auto* d = std::get_if<double>(&value)) {
      EXPECT_EQ(std::signbit(std::get<double>(got)), std::signbit(*d));
      EXPECT_EQ(std::get<double>(got), *d);
    } else if (const auto* n = std::get_if<int64_t>(&value)) {
      EXPECT_EQ(std::get<int64_t>(got), *n);
    } else if (const auto* b = std::get_if<bool>(&value)) {
      EXPECT_EQ(std::get<bool>(got), *b);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      EXPECT_EQ(std::get<std::string>(got), *s);
    }
  }

  // The layout torch.load expects: archive/{data.pkl, byteorder, data/N, version}.
  ZipReader zip(dir / "state.bin");
  for (const char* name : {"archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/version"}) {
    EXPECT_NE(zip.Find(name), nullptr) << name;
  }
  const std::vector<uint8_t> version = zip.Read(*zip.Find("archive/version"));
  EXPECT_EQ(std::string(version.begin(), version.end()), "3\n");
}

// Rewrites an archive through `edit`, which may change or drop (by returning false) each entry.
template <typename Edit>
void Rezip(const std::string& from, const std::string& to, Edit edit) {
  ZipReader in(from);
  ZipWriter out(to);
  for (const ZipEntry& entry : in.entries()) {
    std::vector<uint8_t> data = in.Read(entry);
    if (edit(entry.name, &data)) out.Add(entry.name, data.data(), data.size());
  }
  out.Finish();
}

// A zip in torch's layout whose data.pkl is `pickle`.
void WritePickle(const std::string& path, const std::vector<uint8_t>& pickle) {
  ZipWriter zip(path);
  zip.Add("archive/data.pkl", pickle.data(), pickle.size());
  zip.Finish();
}

TEST(TorchPickleTest, TruncatedZip) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = ReadFile(Fixture("tests/fixtures/hf/pickle-cases/cases.bin"));
  bytes.resize(bytes.size() / 2);
  WriteFile(dir / "cut.bin", bytes);
  ExpectError([&] { ReadTorchStateDict(dir / "cut.bin"); }, ErrorKind::kDataLoss, {dir / "cut.bin", "not a zip"});
}

TEST(TorchPickleTest, UnknownOpcode) {
  ScratchDir dir;
  WritePickle(dir / "op.bin", {0x80, 0x02, '}', 0x93, '.'});  // STACK_GLOBAL is protocol 4
  ExpectError([&] { ReadTorchStateDict(dir / "op.bin"); }, ErrorKind::kDataLoss,
              {dir / "op.bin", "archive/data.pkl", "unsupported pickle opcode 0x93", "at offset 3"});
}

TEST(TorchPickleTest, MissingStorageEntry) {
  ScratchDir dir;
  Rezip(Fixture("tests/fixtures/hf/pickle-cases/cases.bin"), dir / "nostorage.bin",
        [](const std::string& name, std::vector<uint8_t>*) { return name != "cases/data/3"; });
  ExpectError([&] { ReadTorchStateDict(dir / "nostorage.bin"); }, ErrorKind::kDataLoss,
              {dir / "nostorage.bin", "missing zip entry \"cases/data/3\"", "int8_transposed"});
}

TEST(TorchPickleTest, StorageSmallerThanItsView) {
  ScratchDir dir;
  Rezip(Fixture("tests/fixtures/hf/pickle-cases/cases.bin"), dir / "short.bin",
        [](const std::string& name, std::vector<uint8_t>* data) {
          if (name == "cases/data/0") data->resize(40);
          return true;
        });
  ExpectError([&] { ReadTorchStateDict(dir / "short.bin"); }, ErrorKind::kDataLoss,
              {dir / "short.bin", "\"plain_f32\"", "holds 40 bytes, fewer than its 24 F32 elements"});
}

TEST(TorchPickleTest, CorruptStorageBytes) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = ReadFile(Fixture("tests/fixtures/hf/pickle-cases/cases.bin"));
  ZipReader zip(Fixture("tests/fixtures/hf/pickle-cases/cases.bin"));
  const uint64_t local = zip.Find("cases/data/0")->header_offset;
  bytes[local + 30 + LoadLittleEndian(&bytes[local + 26], 2) + LoadLittleEndian(&bytes[local + 28], 2)] ^= 1;
  WriteFile(dir / "crc.bin", bytes);
  ExpectError([&] { ReadTorchStateDict(dir / "crc.bin"); }, ErrorKind::kDataLoss,
              {dir / "crc.bin", "cases/data/0", "CRC mismatch"});
}

TEST(TorchPickleTest, RefusesOtherLayouts) {
  ScratchDir dir;
  Rezip(Fixture("tests/fixtures/hf/pickle-cases/cases.bin"), dir / "big.bin",
        [](const std::string& name, std::vector<uint8_t>* data) {
          if (name == "cases/byteorder") *data = {'b', 'i', 'g'};
          return true;
        });
  ExpectError([&] { ReadTorchStateDict(dir / "big.bin"); }, ErrorKind::kDataLoss,
              {dir / "big.bin", "byteorder is \"big\""});

  WriteFile(dir / "legacy.bin", std::vector<uint8_t>{0x80, 0x02, 0x8a, 0x0a});
  ExpectError([&] { ReadTorchStateDict(dir / "legacy.bin"); }, ErrorKind::kDataLoss, {dir / "legacy.bin", "legacy"});

  ZipWriter other(dir / "other.zip");
  other.Add("readme.txt", nullptr, 0);
  other.Finish();
  ExpectError([&] { ReadTorchStateDict(dir / "other.zip"); }, ErrorKind::kDataLoss, {"data.pkl"});

  ExpectError([&] { ReadTorchStateDict(dir / "absent.bin"); }, ErrorKind::kNotFound, {dir / "absent.bin"});
}

TEST(TorchPickleTest, RefusesMalformedPickles) {
  ScratchDir dir;
  const std::string path = dir / "p.bin";
  const std::vector<std::pair<std::vector<uint8_t>, std::string>> cases = {
      {{0x80, 0x02, '.'}, "stack underflow"},
      {{0x80, 0x02, '}'}, "truncated pickle"},
      {{0x80, 0x02, ']', '.'}, "holds a list, not a state dict"},
      {{0x80, 0x02, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n', '.'}, "unsupported global os.system"},
      {{0x80, 0x02, 'h', 0x07, '.'}, "memo key 7"},
      {{0x80, 0x02, 0x8a, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'}, "does not fit 64 bits"},
      {{0x80, 0x02, '}', '(', 'K', 1, 's', '.'}, "stack underflow"},  // SETITEM below its MARK
      {{0x80, 0x02, '}', 'K', 1, 'K', 2, 's', '.'}, "key is a int"},
      {{0x80, 0x02, '}', 'X', 1, 0, 0, 0, 'k', ']', 's', '.'}, "\"k\" is a list"},
      {{0x80, 0x02, '}', '(', 'K', 1, 'u', '.'}, "odd number"},
      {{0x80, 0x02, '}', 'X', 0xff, 0xff, 0xff, 0x7f, 'k'}, "truncated pickle"},
      {{0x80, 0x02, 'K', 1, ')', 'R', '.'}, "REDUCE needs a global"},
  };
  for (const auto& [pickle, message] : cases) {
    SCOPED_TRACE(message);
    WritePickle(path, pickle);
    ExpectError([&] { ReadTorchStateDict(path); }, ErrorKind::kDataLoss, {path, message});
  }
}

TEST(TorchPickleTest, RefusesViewsOutsideTheirStorage) {
  ScratchDir dir;
  WriteTorchStateDict(dir / "ok.bin", {{"w", HostTensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6})}});
  // The writer's storage offset is "BINPERSID BININT1 0": move it.
  for (const auto& [offset, message] : std::vector<std::pair<uint8_t, std::string>>{
           {1, "needs element 6 of a storage of 6"}, {7, "storage offset 7 outside a storage of 6 elements"}}) {
    Rezip(dir / "ok.bin", dir / "moved.bin", [&, offset = offset](const std::string& name, std::vector<uint8_t>* data) {
      if (name == "archive/data.pkl") {
        const std::vector<uint8_t> pattern = {'Q', 'K', 0};
        auto it = std::search(data->begin(), data->end(), pattern.begin(), pattern.end());
        EXPECT_NE(it, data->end());
        it[2] = offset;
      }
      return true;
    });
    ExpectError([&] { ReadTorchStateDict(dir / "moved.bin"); }, ErrorKind::kDataLoss,
                {dir / "moved.bin", "tensor \"w\"", message});
  }
}

TEST(TorchPickleTest, DeepNestingNeitherRecursesNorLeaks) {
  ScratchDir dir;
  // A million nested lists, then a list appended to itself through the memo: no recursion, no cycle leak.
  std::vector<uint8_t> pickle = {0x80, 0x02};
  const size_t depth = 1000000;
  pickle.insert(pickle.end(), depth, ']');
  pickle.insert(pickle.end(), depth - 1, 'a');
  pickle.insert(pickle.end(), {'q', 0, 'h', 0, 'a', '.'});
  WritePickle(dir / "deep.bin", pickle);
  ExpectError([&] { ReadTorchStateDict(dir / "deep.bin"); }, ErrorKind::kDataLoss, {"holds a list"});
}

// Random corruption must only ever produce an Error: never a crash, a hang or another exception.
TEST(TorchPickleTest, SurvivesRandomCorruption) {
  ScratchDir dir;
  const std::string source = Fixture("tests/fixtures/hf/pickle-cases/cases.bin");
  const std::vector<uint8_t> original = ReadFile(source);
  ZipReader zip(source);
  const std::vector<uint8_t> pickle = zip.Read(*zip.Find("cases/data.pkl"));
  std::mt19937 rng(1234);
  const std::string path = dir / "fuzz.bin";
  for (int round = 0; round < 600; ++round) {
    const bool in_pickle = round % 2 == 0;  // data.pkl rewritten with a valid CRC, or the raw file
    std::vector<uint8_t> bytes = in_pickle ? pickle : original;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % bytes.size();
      switch (rng() % 3) {
        case 0: bytes[pos] = static_cast<uint8_t>(rng()); break;
        case 1: bytes[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: bytes.resize(std::max<size_t>(pos, 1)); break;
      }
    }
    if (in_pickle) {
      Rezip(source, path, [&](const std::string& name, std::vector<uint8_t>* data) {
        if (name == "cases/data.pkl") *data = bytes;
        return true;
      });
    } else {
      WriteFile(path, bytes);
    }
    try {
      ReadTorchStateDict(path);
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr(path));
    }
  }
}

}  // namespace
}  // namespace layerscope
