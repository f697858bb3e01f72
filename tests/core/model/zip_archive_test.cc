#include "core/model/zip_archive.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/core/model/test_util.h"

namespace layerscope {
namespace {

using testing_util::ExpectError;
using testing_util::ReadFile;
using testing_util::ScratchDir;
using testing_util::WriteFile;

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST(Crc32Test, KnownValues) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32(reinterpret_cast<const uint8_t*>(check.data()), check.size()), 0xcbf43926u);
  EXPECT_EQ(Crc32(nullptr, 0), 0u);
  // Incremental use, across the 8-byte blocks of the fast path.
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 3);
  EXPECT_EQ(Crc32(data.data() + 13, data.size() - 13, Crc32(data.data(), 13)), Crc32(data.data(), data.size()));
}

// Entries written, read back, with data aligned on 64 bytes; with and without the ZIP64 records.
class ZipRoundTripTest : public ::testing::TestWithParam<bool> {};

TEST_P(ZipRoundTripTest, WritesWhatItReads) {
  ScratchDir dir;
  const std::string path = dir / "a.zip";
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> entries = {
      {"archive/data.pkl", Bytes("pickle")}, {"archive/empty", {}}, {"archive/data/0", std::vector<uint8_t>(777, 9)}};
  ZipWriter writer(path, /*force_zip64=*/GetParam());
  for (const auto& [name, data] : entries) writer.Add(name, data.data(), data.size());
  writer.Finish();

  const std::vector<uint8_t> file = ReadFile(path);
  ZipReader reader(path);
  ASSERT_EQ(reader.entries().size(), entries.size());
  for (const auto& [name, data] : entries) {
    const ZipEntry* entry = reader.Find(name);
    ASSERT_NE(entry, nullptr) << name;
    EXPECT_EQ(reader.Read(*entry), data) << name;
    const uint64_t local = entry->header_offset;
    const uint64_t data_offset =
        local + 30 + LoadLittleEndian(&file[local + 26], 2) + LoadLittleEndian(&file[local + 28], 2);
    EXPECT_EQ(data_offset % 64, 0u) << name;
  }
  EXPECT_EQ(reader.Find("archive/none"), nullptr);
  // The end-of-central-directory record is last; the ZIP64 locator sits right before it when written.
  const bool has_locator = LoadLittleEndian(&file[file.size() - 22 - 20], 4) == 0x07064b50;
  EXPECT_EQ(has_locator, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Zip64, ZipRoundTripTest, ::testing::Bool());

TEST(ZipReaderTest, RefusesDamagedArchives) {
  ScratchDir dir;
  const std::string good = dir / "good.zip";
  ZipWriter writer(good);
  const std::vector<uint8_t> data(100, 1);
  writer.Add("a/data/0", data.data(), data.size());
  writer.Finish();
  const std::vector<uint8_t> bytes = ReadFile(good);

  WriteFile(dir / "text.zip", std::string("definitely not a zip archive"));
  ExpectError([&] { ZipReader r(dir / "text.zip"); }, ErrorKind::kDataLoss, {dir / "text.zip", "not a zip archive"});

  // Cut before the end record: no directory can be found.
  WriteFile(dir / "cut.zip", std::vector<uint8_t>(bytes.begin(), bytes.end() - 30));
  ExpectError([&] { ZipReader r(dir / "cut.zip"); }, ErrorKind::kDataLoss, {dir / "cut.zip"});

  // A directory offset past the end.
  std::vector<uint8_t> bad_offset = bytes;
  bad_offset[bad_offset.size() - 22 + 16] = 0xff;
  bad_offset[bad_offset.size() - 22 + 19] = 0x7f;
  WriteFile(dir / "offset.zip", bad_offset);
  ExpectError([&] { ZipReader r(dir / "offset.zip"); }, ErrorKind::kDataLoss, {"outside the file"});

  // A flipped data byte: the CRC catches it.
  std::vector<uint8_t> flipped = bytes;
  flipped[64] ^= 0x40;
  WriteFile(dir / "flipped.zip", flipped);
  ZipReader reader(dir / "flipped.zip");
  ExpectError([&] { reader.Read(*reader.Find("a/data/0")); }, ErrorKind::kDataLoss,
              {dir / "flipped.zip", "a/data/0", "CRC mismatch"});

  // A compressed entry (method 8) is refused by name.
  std::vector<uint8_t> deflated = bytes;
  const uint64_t directory = LoadLittleEndian(&bytes[bytes.size() - 22 + 16], 4);
  deflated[directory + 10] = 8;
  WriteFile(dir / "deflated.zip", deflated);
  ZipReader compressed(dir / "deflated.zip");
  ExpectError([&] { compressed.Read(compressed.entries()[0]); }, ErrorKind::kDataLoss, {"a/data/0", "compressed"});
}

}  // namespace
}  // namespace layerscope
