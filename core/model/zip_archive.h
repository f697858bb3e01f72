// A minimal zip archive reader and writer, enough for the files torch.save writes: entries stored uncompressed,
// ZIP64 records (which torch writes once sizes or offsets pass 4 GiB) read and written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/model/host_tensor.h"

namespace layerscope {

// CRC-32 (the zip / zlib polynomial) of n bytes, continuing from `crc` (0 to start).
uint32_t Crc32(const uint8_t* data, size_t n, uint32_t crc = 0);

struct ZipEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;  // 0 = stored; the only one read
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t header_offset = 0;  // of the entry's local file header
};

// Reads an archive's central directory on construction; entries are read on demand.
class ZipReader {
 public:
  // Throws Error(kNotFound) when the file cannot be opened and Error(kDataLoss) naming the file when it is not a
  // zip archive or its directory is damaged.
  explicit ZipReader(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when there is no entry of that name.
  const ZipEntry* Find(const std::string& name) const;

  // The entry's bytes, checked against its CRC. Throws Error(kDataLoss) naming the file and the entry when it is
  // compressed, encrypted, out of bounds or corrupt.
  std::vector<uint8_t> Read(const ZipEntry& entry) const;

 private:
  void ReadCentralDirectory();

  InputFile file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Writes an archive of stored entries whose data start on 64-byte boundaries, as torch's writer aligns them (so
// that storages can be memory-mapped), padding with torch's "FB" extra field.
class ZipWriter {
 public:
  // force_zip64 writes the ZIP64 records even when nothing needs them (for tests of the >4 GiB layout).
  explicit ZipWriter(const std::string& path, bool force_zip64 = false);

  void Add(const std::string& name, const uint8_t* data, size_t n);
  // Writes the central directory and moves the file into place. Nothing is left under `path` without it.
  void Finish();

 private:
  OutputFile out_;
  bool force_zip64_;
  std::vector<ZipEntry> written_;
};

}  // namespace layerscope
