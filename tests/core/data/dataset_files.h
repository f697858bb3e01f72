// Writes the dataset files the data tests read: plain, gzip'd (whole or cut short), gzip bombs and .npy, in a fresh
// folder per test.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace layerscope {

// A gzip bomb: the gzip of `head` then `fill_bytes` copies of `fill`, deflated 1 MiB at a time so that neither the
// test nor its result holds them (the result is about a thousandth of their size).
inline std::string GzipBomb(const std::string& head, char fill, uint64_t fill_bytes) {
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);  // 16: gzip framing
  const std::string chunk(1 << 20, fill);
  std::string out;
  char buffer[1 << 16];
  auto deflate_all = [&](const char* data, size_t size, int flush) {
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    stream.avail_in = static_cast<uInt>(size);
    do {
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof(buffer);
      deflate(&stream, flush);
      out.append(buffer, sizeof(buffer) - stream.avail_out);
    } while (stream.avail_out == 0);
  };
  deflate_all(head.data(), head.size(), Z_NO_FLUSH);
  for (uint64_t left = fill_bytes; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    deflate_all(chunk.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  deflate_all(nullptr, 0, Z_FINISH);
  deflateEnd(&stream);
  return out;
}

// The bytes of a .npy file of `values` with the given dtype descr ('<i4', '<i8', '<f4', ...) and shape ("(6,)",
// "(2, 3)").
template <class T>
std::string NpyBytes(const std::string& descr, const std::string& shape, const std::vector<T>& values) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return bytes;
}

class DatasetFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("layerscope-data-" + std::string(test->test_suite_name()) + "-" + test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  // `bytes` gzip'd into `name`; keep < 1 cuts the compressed file to that fraction of its size.
  std::string WriteGzip(const std::string& name, const std::string& bytes, double keep = 1.0) {
    const std::string path = (dir_ / name).string();
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    if (keep < 1.0) {
      std::filesystem::resize_file(path, static_cast<uintmax_t>(std::filesystem::file_size(path) * keep));
    }
    return path;
  }

  // A .npy file of `values` with the given dtype descr ('<i4', '<i8', '<f4', ...) and shape ("(6,)", "(2, 3)").
  template <class T>
  std::string WriteNpy(const std::string& name, const std::string& descr, const std::string& shape,
                       const std::vector<T>& values) {
    return Write(name, NpyBytes(descr, shape, values));
  }

  std::filesystem::path dir_;
};

}  // namespace layerscope
