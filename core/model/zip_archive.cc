#include "core/model/zip_archive.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"

namespace layerscope {
namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kEnd64Signature = 0x06064b50;
constexpr uint32_t kEnd64LocatorSignature = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kEnd64Size = 56;
constexpr size_t kEnd64LocatorSize = 20;
constexpr uint64_t kMaxComment = 0xffff;
constexpr uint64_t kMax16 = 0xffff;
constexpr uint64_t kMax32 = 0xffffffff;  // in a 32-bit field: "see the ZIP64 record"
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB", torch's padding field
constexpr uint64_t kAlignment = 64;
constexpr uint16_t kVersion = 20;       // 2.0: stored entries
constexpr uint16_t kVersionZip64 = 45;  // 4.5: ZIP64 records
constexpr uint16_t kDosDate = 0x21;     // 1980-01-01, so that the same tensors give the same bytes
constexpr uint16_t kFlagEncrypted = 0x1;

struct CrcTables {
  uint32_t t[8][256];
};

// Slicing-by-8 tables: checkpoints run to gigabytes, and a byte-at-a-time CRC would dominate loading.
const CrcTables& Tables() {
  static const CrcTables tables = [] {
    CrcTables c{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t v = i;
      for (int k = 0; k < 8; ++k) v = (v >> 1) ^ (0xedb88320u & (0u - (v & 1u)));
      c.t[0][i] = v;
    }
    for (int k = 1; k < 8; ++k) {
      for (uint32_t i = 0; i < 256; ++i) c.t[k][i] = (c.t[k - 1][i] >> 8) ^ c.t[0][c.t[k - 1][i] & 0xff];
    }
    return c;
  }();
  return tables;
}

uint64_t Field(const std::vector<uint8_t>& bytes, size_t pos, size_t n) {
  return LoadLittleEndian(bytes.data() + pos, n);
}

}  // namespace

uint32_t Crc32(const uint8_t* data, size_t n, uint32_t crc) {
  const auto& t = Tables().t;
  crc = ~crc;
  for (; n >= 8; n -= 8, data += 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, data, 4);  // little-endian host (host_tensor.cc asserts it)
    std::memcpy(&hi, data + 4, 4);
    lo ^= crc;
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
          t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; --n, ++data) crc = (crc >> 8) ^ t[0][(crc ^ *data) & 0xff];
  return ~crc;
}

ZipReader::ZipReader(const std::string& path) : file_(path) { ReadCentralDirectory(); }

void ZipReader::ReadCentralDirectory() {
  const auto fail = [&](const std::string& what) { throw Error(ErrorKind::kDataLoss, path() + ": " + what); };
  const uint64_t size = file_.size();
  if (size < kEndSize) fail("not a zip archive (" + std::to_string(size) + " bytes)");

  // The end record sits at the very end, followed only by a comment of at most 64 KiB.
  const uint64_t tail_size = std::min(size, kEndSize + kMaxComment);
  const uint64_t tail_start = size - tail_size;
  const std::vector<uint8_t> tail = file_.ReadBytes(tail_start, tail_size, "the zip end record");
  size_t end = tail_size - kEndSize + 1;
  while (end > 0 && Field(tail, end - 1, 4) != kEndSignature) --end;
  if (end == 0) fail("no zip end-of-central-directory record: not a zip archive, or truncated");
  --end;
  uint64_t disk = Field(tail, end + 4, 2);
  uint64_t directory_disk = Field(tail, end + 6, 2);
  uint64_t count = Field(tail, end + 10, 2);
  uint64_t directory_size = Field(tail, end + 12, 4);
  uint64_t directory_offset = Field(tail, end + 16, 4);

  // A ZIP64 locator right before the end record points at the ZIP64 end record, whose fields replace those above.
  const uint64_t end_offset = tail_start + end;
  if (end_offset >= kEnd64LocatorSize) {
    const std::vector<uint8_t> locator =
        file_.ReadBytes(end_offset - kEnd64LocatorSize, kEnd64LocatorSize, "the ZIP64 end locator");
    if (Field(locator, 0, 4) == kEnd64LocatorSignature) {
      const std::vector<uint8_t> end64 =
          file_.ReadBytes(Field(locator, 8, 8), kEnd64Size, "the ZIP64 end-of-central-directory record");
      if (Field(end64, 0, 4) != kEnd64Signature) fail("damaged ZIP64 end-of-central-directory record");
      disk = Field(end64, 16, 4);
      directory_disk = Field(end64, 20, 4);
      count = Field(end64, 32, 8);
      directory_size = Field(end64, 40, 8);
      directory_offset = Field(end64, 48, 8);
    }
  }
  if (disk != 0 || directory_disk != 0) fail("multi-disk zip archives are not supported");
  if (directory_offset > size || directory_size > size - directory_offset) {
    fail("the central directory (" + std::to_string(directory_size) + " bytes at offset " +
         std::to_string(directory_offset) + ") lies outside the file: truncated?");
  }
  if (count > directory_size / kCentralHeaderSize) {
    fail("the central directory claims " + std::to_string(count) + " entries in " + std::to_string(directory_size) +
         " bytes");
  }

  const std::vector<uint8_t> directory = file_.ReadBytes(directory_offset, directory_size, "the central directory");
  size_t pos = 0;
  entries_.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const std::string damaged = "central directory entry " + std::to_string(i) + " is damaged";
    if (directory.size() - pos < kCentralHeaderSize || Field(directory, pos, 4) != kCentralHeaderSignature) {
      fail(damaged);
    }
    ZipEntry entry;
    entry.flags = static_cast<uint16_t>(Field(directory, pos + 8, 2));
    entry.method = static_cast<uint16_t>(Field(directory, pos + 10, 2));
    entry.crc32 = static_cast<uint32_t>(Field(directory, pos + 16, 4));
    entry.compressed_size = Field(directory, pos + 20, 4);
    entry.size = Field(directory, pos + 24, 4);
    const size_t name_length = Field(directory, pos + 28, 2);
    const size_t extra_length = Field(directory, pos + 30, 2);
    const size_t comment_length = Field(directory, pos + 32, 2);
    entry.header_offset = Field(directory, pos + 42, 4);
    const size_t record_size = kCentralHeaderSize + name_length + extra_length + comment_length;
    if (directory.size() - pos < record_size) fail(damaged);
    const size_t name_pos = pos + kCentralHeaderSize;
    entry.name.assign(reinterpret_cast<const char*>(directory.data() + name_pos), name_length);

    // The ZIP64 extra field holds, in this order, the 64-bit values of whichever fields read 0xffffffff.
    size_t extra = name_pos + name_length;
    const size_t extra_end = extra + extra_length;
    while (extra_end - extra >= 4) {
      const uint64_t id = Field(directory, extra, 2);
      const size_t length = Field(directory, extra + 2, 2);
      extra += 4;
      if (extra_end - extra < length) fail(damaged + " (extra field)");
      if (id == kZip64ExtraId) {
        size_t field = extra;
        for (uint64_t* value : {&entry.size, &entry.compressed_size, &entry.header_offset}) {
          if (*value != kMax32) continue;
          if (extra + length - field < 8) fail(damaged + " (ZIP64 extra field)");
          *value = Field(directory, field, 8);
          field += 8;
        }
      }
      extra += length;
    }
    if (!index_.emplace(entry.name, entries_.size()).second) fail("duplicate zip entry \"" + entry.name + "\"");
    entries_.push_back(std::move(entry));
    pos += record_size;
  }
}

const ZipEntry* ZipReader::Find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::vector<uint8_t> ZipReader::Read(const ZipEntry& entry) const {
  const std::string what = "zip entry \"" + entry.name + "\"";
  const auto fail = [&](const std::string& why) { throw Error(ErrorKind::kDataLoss, path() + ": " + what + why); };
  if (entry.flags & kFlagEncrypted) fail(" is encrypted");
  if (entry.method != 0 || entry.compressed_size != entry.size) {
    fail(" is compressed (method " + std::to_string(entry.method) +
         "); torch.save stores entries uncompressed: was the file re-zipped?");
  }
  const std::vector<uint8_t> header = file_.ReadBytes(entry.header_offset, kLocalHeaderSize, what + "'s header");
  if (Field(header, 0, 4) != kLocalHeaderSignature) fail(": damaged local header");
  const uint64_t data_offset = entry.header_offset + kLocalHeaderSize + Field(header, 26, 2) + Field(header, 28, 2);
  std::vector<uint8_t> data = file_.ReadBytes(data_offset, entry.size, what);
  const uint32_t crc = Crc32(data.data(), data.size());
  if (crc != entry.crc32) {
    fail(": CRC mismatch (recorded " + std::to_string(entry.crc32) + ", computed " + std::to_string(crc) +
         "): the file is corrupt");
  }
  return data;
}

ZipWriter::ZipWriter(const std::string& path, bool force_zip64) : out_(path), force_zip64_(force_zip64) {}

void ZipWriter::Add(const std::string& name, const uint8_t* data, size_t n) {
  if (name.size() > kMax16) throw Error(ErrorKind::kInvalidArgument, "zip entry name too long: " + name);
  ZipEntry entry;
  entry.name = name;
  entry.crc32 = Crc32(data, n);
  entry.size = entry.compressed_size = n;
  entry.header_offset = out_.offset();
  const bool zip64 = force_zip64_ || n >= kMax32;

  std::vector<uint8_t> extra;
  if (zip64) {  // a local header's ZIP64 field holds both sizes
    AppendLittleEndian(kZip64ExtraId, 2, &extra);
    AppendLittleEndian(16, 2, &extra);
    AppendLittleEndian(n, 8, &extra);
    AppendLittleEndian(n, 8, &extra);
  }
  const uint64_t unpadded = entry.header_offset + kLocalHeaderSize + name.size() + extra.size() + 4;
  const uint64_t padding = (kAlignment - unpadded % kAlignment) % kAlignment;
  AppendLittleEndian(kPaddingExtraId, 2, &extra);
  AppendLittleEndian(padding, 2, &extra);
  extra.insert(extra.end(), padding, 'Z');

  std::vector<uint8_t> header;
  AppendLittleEndian(kLocalHeaderSignature, 4, &header);
  AppendLittleEndian(zip64 ? kVersionZip64 : kVersion, 2, &header);
  AppendLittleEndian(0, 2, &header);  // flags
  AppendLittleEndian(0, 2, &header);  // method: stored
  AppendLittleEndian(0, 2, &header);  // time
  AppendLittleEndian(kDosDate, 2, &header);
  AppendLittleEndian(entry.crc32, 4, &header);
  AppendLittleEndian(zip64 ? kMax32 : n, 4, &header);
  AppendLittleEndian(zip64 ? kMax32 : n, 4, &header);
  AppendLittleEndian(name.size(), 2, &header);
  AppendLittleEndian(extra.size(), 2, &header);
  out_.Write(header.data(), header.size());
  out_.Write(name.data(), name.size());
  out_.Write(extra.data(), extra.size());
  out_.Write(data, n);
  written_.push_back(std::move(entry));
}

void ZipWriter::Finish() {
  const uint64_t directory_offset = out_.offset();
  for (const ZipEntry& entry : written_) {
    const bool large_size = force_zip64_ || entry.size >= kMax32;
    const bool large_offset = force_zip64_ || entry.header_offset >= kMax32;
    std::vector<uint8_t> extra;
    if (large_size || large_offset) {
      AppendLittleEndian(kZip64ExtraId, 2, &extra);
      AppendLittleEndian(8 * ((large_size ? 2 : 0) + (large_offset ? 1 : 0)), 2, &extra);
      if (large_size) {
        AppendLittleEndian(entry.size, 8, &extra);
        AppendLittleEndian(entry.size, 8, &extra);
      }
      if (large_offset) AppendLittleEndian(entry.header_offset, 8, &extra);
    }
    const uint16_t version = extra.empty() ? kVersion : kVersionZip64;
    std::vector<uint8_t> header;
    AppendLittleEndian(kCentralHeaderSignature, 4, &header);
    AppendLittleEndian(version, 2, &header);  // made by
    AppendLittleEndian(version, 2, &header);  // needed
    AppendLittleEndian(0, 2, &header);        // flags
    AppendLittleEndian(0, 2, &header);        // method: stored
    AppendLittleEndian(0, 2, &header);        // time
    AppendLittleEndian(kDosDate, 2, &header);
    AppendLittleEndian(entry.crc32, 4, &header);
    AppendLittleEndian(large_size ? kMax32 : entry.size, 4, &header);
    AppendLittleEndian(large_size ? kMax32 : entry.size, 4, &header);
    AppendLittleEndian(entry.name.size(), 2, &header);
    AppendLittleEndian(extra.size(), 2, &header);
    AppendLittleEndian(0, 2, &header);  // comment length
    AppendLittleEndian(0, 2, &header);  // disk
    AppendLittleEndian(0, 2, &header);  // internal attributes
    AppendLittleEndian(0, 4, &header);  // external attributes
    AppendLittleEndian(large_offset ? kMax32 : entry.header_offset, 4, &header);
    out_.Write(header.data(), header.size());
    out_.Write(entry.name.data(), entry.name.size());
    out_.Write(extra.data(), extra.size());
  }
  const uint64_t directory_size = out_.offset() - directory_offset;
  const uint64_t count = written_.size();

  std::vector<uint8_t> end;
  if (force_zip64_ || count >= kMax16 || directory_size >= kMax32 || directory_offset >= kMax32) {
    const uint64_t end64_offset = out_.offset();
    AppendLittleEndian(kEnd64Signature, 4, &end);
    AppendLittleEndian(kEnd64Size - 12, 8, &end);  // size of the rest of the record
    AppendLittleEndian(kVersionZip64, 2, &end);
    AppendLittleEndian(kVersionZip64, 2, &end);
    AppendLittleEndian(0, 4, &end);  // disk
    AppendLittleEndian(0, 4, &end);  // disk of the directory
    AppendLittleEndian(count, 8, &end);
    AppendLittleEndian(count, 8, &end);
    AppendLittleEndian(directory_size, 8, &end);
    AppendLittleEndian(directory_offset, 8, &end);
    AppendLittleEndian(kEnd64LocatorSignature, 4, &end);
    AppendLittleEndian(0, 4, &end);  // disk of the ZIP64 end record
    AppendLittleEndian(end64_offset, 8, &end);
    AppendLittleEndian(1, 4, &end);  // number of disks
  }
  AppendLittleEndian(kEndSignature, 4, &end);
  AppendLittleEndian(0, 2, &end);  // disk
  AppendLittleEndian(0, 2, &end);  // disk of the directory
  AppendLittleEndian(std::min(count, kMax16), 2, &end);
  AppendLittleEndian(std::min(count, kMax16), 2, &end);
  AppendLittleEndian(std::min(directory_size, kMax32), 4, &end);
  AppendLittleEndian(std::min(directory_offset, kMax32), 4, &end);
  AppendLittleEndian(0, 2, &end);  // comment length
  out_.Write(end.data(), end.size());
  out_.Commit();
}

}  // namespace layerscope
