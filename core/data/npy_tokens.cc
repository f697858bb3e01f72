#include "core/data/npy_tokens.h"

#include <cstring>
#include <limits>

#include "core/util/error.h"

namespace layerscope {
namespace {

[[noreturn]] void Corrupt(const std::string& path, const std::string& why) {
  throw Error(ErrorKind::kDataLoss, path + ": not a readable .npy file: " + why);
}

// The value of `key` in the header's Python dict literal: a quoted string, a word, or a tuple with its parentheses.
std::string HeaderValue(const std::string& header, const std::string& key, const std::string& path) {
  const size_t at = header.find("'" + key + "':");
  if (at == std::string::npos) Corrupt(path, "the header has no '" + key + "'");
  const size_t begin = header.find_first_not_of(' ', at + key.size() + 3);
  const bool tuple = begin != std::string::npos && header[begin] == '(';
  const size_t end = begin == std::string::npos ? begin
                     : tuple                    ? header.find(')', begin)
                                                : header.find_first_of(",}", begin);
  if (end == std::string::npos) Corrupt(path, "the header's '" + key + "' has no value");
  return header.substr(begin, end - begin + (tuple ? 1 : 0));
}

std::vector<int64_t> ParseShape(const std::string& shape, const std::string& path) {
  if (shape.front() != '(') Corrupt(path, "the shape " + shape + " is not a tuple");
  std::vector<int64_t> dims;
  for (size_t i = shape.find_first_of("0123456789"); i != std::string::npos; i = shape.find_first_of("0123456789", i)) {
    const size_t end = shape.find_first_not_of("0123456789", i);
    dims.push_back(std::stoll(shape.substr(i, end - i)));
    i = end;
  }
  return dims;
}

}  // namespace

std::vector<std::vector<int32_t>> ParseNpyTokens(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) Corrupt(path, "no .npy magic");
  const int major = static_cast<unsigned char>(bytes[6]);
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[i])); };
  size_t header_len, header_start;
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    header_start = 10;
  } else if ((major == 2 || major == 3) && bytes.size() >= 12) {
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    header_start = 12;
  } else {
    Corrupt(path, "unknown .npy version " + std::to_string(major));
  }
  if (bytes.size() < header_start + header_len) Corrupt(path, "the header is cut short");
  const std::string header = bytes.substr(header_start, header_len);

  const std::string descr = HeaderValue(header, "descr", path);
  size_t width;
  if (descr == "'<i4'" || descr == "'=i4'") {
    width = 4;
  } else if (descr == "'<i8'" || descr == "'=i8'") {
    width = 8;
  } else {
    throw Error(ErrorKind::kInvalidArgument,
                path + ": dtype " + descr + " is not token ids; expected int32 ('<i4') or int64 ('<i8')");
  }
  if (HeaderValue(header, "fortran_order", path) != "False") {
    throw Error(ErrorKind::kInvalidArgument, path + ": Fortran-order arrays are not read; save it in C order");
  }
  const std::vector<int64_t> shape = ParseShape(HeaderValue(header, "shape", path), path);
  if (shape.size() != 1 && shape.size() != 2) {
    throw Error(ErrorKind::kInvalidArgument, path + ": a " + std::to_string(shape.size()) +
                                                 "-D array; token ids are 1-D (one document) or 2-D (one per row)");
  }
  const int64_t rows = shape.size() == 2 ? shape[0] : 1;
  const int64_t cols = shape.back();
  const size_t data_start = header_start + header_len;
  const size_t need = static_cast<size_t>(rows) * static_cast<size_t>(cols) * width;
  if (bytes.size() - data_start < need) {
    Corrupt(path, "the shape needs " + std::to_string(need) + " bytes of data, the file holds " +
                      std::to_string(bytes.size() - data_start));
  }

  std::vector<std::vector<int32_t>> out(rows, std::vector<int32_t>(cols));
  // Values are copied as they lie: '<' (little-endian) is the byte order of every platform the server runs on.
  const char* data = bytes.data() + data_start;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const char* at = data + (r * cols + c) * width;
      if (width == 4) {
        std::memcpy(&out[r][c], at, 4);
        continue;
      }
      int64_t value;
      std::memcpy(&value, at, 8);
      if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) {
        throw Error(ErrorKind::kInvalidArgument, path + " row " + std::to_string(r) + " column " + std::to_string(c) +
                                                     ": " + std::to_string(value) + " does not fit a token id");
      }
      out[r][c] = static_cast<int32_t>(value);
    }
  }
  return out;
}

}  // namespace layerscope
