// The .npy writer and reader of `save` and `compare --offline`: the header's bytes as numpy writes them (numpy's
// own loading of these files is checked end to end, tests/e2e/save_test.cc), and every malformed file refused with
// its name.
#include "client/npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "client/errors.h"
#include "tests/server/test_dir.h"

namespace layerscope::client {
namespace {

using server::testing::TestDir;

std::string WriteFile(const TestDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = (std::filesystem::path(dir.path()) / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string Floats(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

TEST(NpyTest, HeaderIsNumpysVersionOneLayoutPaddedTo64Bytes) {
  // numpy.save(f, np.zeros((2, 3, 4), np.float32)) writes exactly these 128 bytes before the data.
  const std::string header = NpyFloat32Header({2, 3, 4});
  ASSERT_EQ(header.size(), 128u);
  EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(header[8]) + 256 * static_cast<unsigned char>(header[9]), 118);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }";
  EXPECT_EQ(header.substr(10, dict.size()), dict);
  EXPECT_EQ(header.find_first_not_of(' ', 10 + dict.size()), 127u);  // blanks, then the closing newline
  EXPECT_EQ(header.back(), '\n');
  const std::string one_dim = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
  EXPECT_EQ(NpyFloat32Header({5}).substr(10, one_dim.size()), one_dim);
}

TEST(NpyTest, ReadsBackWhatWasWritten) {
  TestDir dir;
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const std::string path = WriteFile(dir, "a.npy", NpyFloat32Header({1, 2, 3}) + Floats(values));
  NpyFloat32Reader reader(path);
  EXPECT_EQ(reader.shape(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(reader.numel(), 6);
  std::vector<float> read(4);
  reader.Read(2, 4, read.data());
  EXPECT_EQ(read, (std::vector<float>{3.25f, 0.0f, 1e-30f, -7.0f}));
}

TEST(NpyTest, RefusesWhatItCannotRead) {
  TestDir dir;
  const std::string header = NpyFloat32Header({2, 2});
  std::string f8 = header;
  f8.replace(f8.find("<f4"), 3, "<f8");
  std::string fortran = header;
  fortran.replace(fortran.find("False"), 5, "True ");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not a .npy file", "hello"},
      {"dtype '<f8' is not little-endian float32", f8 + Floats({1, 2, 3, 4})},
      {"Fortran-order arrays are not read", fortran + Floats({1, 2, 3, 4})},
      {"holds 8 bytes of data; its shape needs 16", header + Floats({1, 2})},
  };
  for (const auto& [error, bytes] : cases) {
    const std::string path = WriteFile(dir, "bad.npy", bytes);
    try {
      NpyFloat32Reader reader(path);
      ADD_FAILURE() << "read " << error;
    } catch (const ClientError& e) {
      EXPECT_EQ(e.code(), kExitFailure);
      EXPECT_NE(std::string(e.what()).find(path + ": " + error), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace layerscope::client
