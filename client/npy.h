// Npy: NumPy's .npy format for the arrays `layerscope save` writes and `compare --offline` reads back:
// little-endian float32, C order (row-major), format version 1.0 (written) or any of 1.0, 2.0 and 3.0 (read).
// numpy.load reads what NpyFloat32Header starts.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace layerscope::client {

// The header of a .npy file holding a float32 array of `shape`: magic, version 1.0, the dictionary, padded with
// blanks so that the data start at a multiple of 64 bytes (as numpy pads).
std::string NpyFloat32Header(const std::vector<int64_t>& shape);

// A float32 .npy file opened for reading. The constructor reads and checks the header; every failure throws
// ClientError (kExitFailure) naming the file and what is wrong with it (not a .npy file, another dtype, Fortran
// order, shorter than its shape says).
class NpyFloat32Reader {
 public:
  explicit NpyFloat32Reader(const std::string& path);

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  // Reads elements [first, first + count) into `out`.
  void Read(int64_t first, int64_t count, float* out);

 private:
  std::string path_;
  std::ifstream in_;
  std::vector<int64_t> shape_;
  int64_t data_offset_ = 0;
};

}  // namespace layerscope::client
