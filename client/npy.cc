#include "client/npy.h"

#include <cstring>

#include "client/errors.h"

namespace layerscope::client {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kAlignment = 64;

[[noreturn]] void Bad(const std::string& path, const std::string& what) {
  throw ClientError(kExitFailure, path + ": " + what);
}

// The value of `key` in a .npy header dictionary: the text after "'key':" up to the next top-level comma or '}'.
std::string DictValue(const std::string& dict, const std::string& key, const std::string& path) {
  const size_t at = dict.find("'" + key + "'");
  if (at == std::string::npos) Bad(path, "its .npy header has no '" + key + "'");
  size_t begin = dict.find(':', at);
  if (begin == std::string::npos) Bad(path, "its .npy header is malformed at '" + key + "'");
  ++begin;
  while (begin < dict.size() && dict[begin] == ' ') ++begin;
  size_t end = begin;
  int depth = 0;
  for (; end < dict.size(); ++end) {
    const char c = dict[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  return dict.substr(begin, end - begin);
}

}  // namespace

std::string NpyFloat32Header(const std::vector<int64_t>& shape) {
  std::string dims;
  for (int64_t dim : shape) dims += std::to_string(dim) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // numpy writes (3,) for one dimension, (2, 3) for more
  if (shape.size() == 1) dims.pop_back();
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;  // magic, version, length, dict, '\n'
  dict.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  dict += '\n';
  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

NpyFloat32Reader::NpyFloat32Reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
  if (!in_) Bad(path, "cannot open it");
  char preamble[kMagicSize + 2];
  if (!in_.read(preamble, sizeof preamble) || std::memcmp(preamble, kMagic, kMagicSize) != 0) {
    Bad(path, "not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = static_cast<unsigned char>(preamble[kMagicSize]);
  if (major < 1 || major > 3) Bad(path, ".npy format version " + std::to_string(major) + " is not 1, 2 or 3");
  // Version 1.0 has a 2-byte header length, 2.0 and 3.0 a 4-byte one; all little-endian.
  const size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {0, 0, 0, 0};
  if (!in_.read(reinterpret_cast<char*>(length_field), static_cast<std::streamsize>(length_bytes))) {
    Bad(path, "truncated .npy header");
  }
  uint32_t length = 0;
  for (size_t i = 0; i < length_bytes; ++i) length |= static_cast<uint32_t>(length_field[i]) << (8 * i);
  std::string dict(length, '\0');
  if (!in_.read(dict.data(), length)) Bad(path, "truncated .npy header");
  data_offset_ = static_cast<int64_t>(kMagicSize + 2 + length_bytes + length);

  const std::string descr = DictValue(dict, "descr", path);
  if (descr != "'<f4'") Bad(path, "dtype " + descr + " is not little-endian float32 ('<f4')");
  if (DictValue(dict, "fortran_order", path) != "False")
    Bad(path, "Fortran-order arrays are not read; save in C order");
  const std::string shape = DictValue(dict, "shape", path);
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') Bad(path, "malformed shape " + shape);
  size_t at = 1;
  while (at < shape.size() - 1) {
    while (at < shape.size() - 1 && (shape[at] == ' ' || shape[at] == ',')) ++at;
    if (at >= shape.size() - 1) break;
    size_t end = at;
    while (end < shape.size() - 1 && shape[end] >= '0' && shape[end] <= '9') ++end;
    if (end == at) Bad(path, "malformed shape " + shape);
    shape_.push_back(std::stoll(shape.substr(at, end - at)));
    at = end;
  }
  in_.seekg(0, std::ios::end);
  const int64_t size = static_cast<int64_t>(in_.tellg());
  if (size < data_offset_ + numel() * 4) {
    Bad(path, "holds " + std::to_string(size - data_offset_) + " bytes of data; its shape needs " +
                  std::to_string(numel() * 4));
  }
}

int64_t NpyFloat32Reader::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape_) n *= dim;
  return n;
}

void NpyFloat32Reader::Read(int64_t first, int64_t count, float* out) {
  in_.seekg(data_offset_ + first * 4);
  if (!in_.read(reinterpret_cast<char*>(out), count * 4)) {
    Bad(path_, "cannot read elements " + std::to_string(first) + " to " + std::to_string(first + count));
  }
}

}  // namespace layerscope::client
