#include "core/model/host_tensor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/util/error.h"

namespace layerscope {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tensor bytes are kept in file order: little-endian hosts");

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF64, "F64", 8}, {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2}, {DType::kBF16, "BF16", 2},
    {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},   {DType::kI16, "I16", 2}, {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},   {DType::kBool, "BOOL", 1},
};

const DTypeInfo& Info(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  throw Error(ErrorKind::kInternal, "unknown DType " + std::to_string(static_cast<int>(dtype)));
}

float FloatFromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

const char* DTypeName(DType dtype) { return Info(dtype).name; }

size_t DTypeSize(DType dtype) { return Info(dtype).size; }

bool DTypeFromName(const std::string& name, DType* dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (name == info.name) {
      *dtype = info.dtype;
      return true;
    }
  }
  return false;
}

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string HostTensor::ShapeString() const { return layerscope::ShapeString(shape); }

std::vector<double> HostTensor::ToDoubles() const {
  const size_t esize = DTypeSize(dtype);
  const size_t n = static_cast<size_t>(numel());
  if (bytes.size() != n * esize) {
    throw Error(ErrorKind::kInvalidArgument, "HostTensor " + std::string(DTypeName(dtype)) + " " + ShapeString() +
                                                 " holds " + std::to_string(bytes.size()) + " bytes, expected " +
                                                 std::to_string(n * esize));
  }
  std::vector<double> out(n);
  const uint8_t* p = bytes.data();
  for (size_t i = 0; i < n; ++i, p += esize) {
    switch (dtype) {
      case DType::kF64: out[i] = Load<double>(p); break;
      case DType::kF32: out[i] = Load<float>(p); break;
      case DType::kF16: out[i] = HalfToFloat(Load<uint16_t>(p)); break;
      case DType::kBF16: out[i] = BFloat16ToFloat(Load<uint16_t>(p)); break;
      case DType::kI64: out[i] = static_cast<double>(Load<int64_t>(p)); break;
      case DType::kI32: out[i] = Load<int32_t>(p); break;
      case DType::kI16: out[i] = Load<int16_t>(p); break;
      case DType::kI8: out[i] = Load<int8_t>(p); break;
      case DType::kU8: out[i] = *p; break;
      case DType::kBool: out[i] = *p != 0 ? 1.0 : 0.0; break;
    }
  }
  return out;
}

HostTensor HostTensor::FromFloats(std::vector<int64_t> shape, const std::vector<float>& values) {
  HostTensor t;
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  if (t.numel() != static_cast<int64_t>(values.size())) {
    throw Error(ErrorKind::kInvalidArgument, "HostTensor::FromFloats: shape " + t.ShapeString() + " needs " +
                                                 std::to_string(t.numel()) + " values, got " +
                                                 std::to_string(values.size()));
  }
  t.bytes.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  const uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return FloatFromBits(sign | 0x7f800000 | (mantissa << 13));  // Inf / NaN
  return FloatFromBits(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

float BFloat16ToFloat(uint16_t bits) { return FloatFromBits(static_cast<uint32_t>(bits) << 16); }

uint64_t LoadLittleEndian(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

void AppendLittleEndian(uint64_t value, size_t n, std::vector<uint8_t>* out) {
  for (size_t i = 0; i < n; ++i) out->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

InputFile::InputFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(ErrorKind::kNotFound, path + ": cannot open: " + ErrnoText());
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(ErrorKind::kNotFound, path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

void InputFile::CheckRange(uint64_t offset, uint64_t n, const std::string& what) const {
  if (offset > size_ || n > size_ - offset) {
    throw Error(ErrorKind::kDataLoss, path_ + ": truncated: " + what + " needs " + std::to_string(n) +
                                          " bytes at offset " + std::to_string(offset) + " but the file has " +
                                          std::to_string(size_) + " bytes");
  }
}

void InputFile::Read(uint64_t offset, uint64_t n, void* dst, const std::string& what) const {
  CheckRange(offset, n, what);
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      throw Error(ErrorKind::kDataLoss,
                  path_ + ": reading " + what + " failed: " + (got == 0 ? "unexpected end of file" : ErrnoText()));
    }
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<uint64_t>(got);
  }
}

std::vector<uint8_t> InputFile::ReadBytes(uint64_t offset, uint64_t n, const std::string& what) const {
  CheckRange(offset, n, what);  // before allocating: n comes from the file
  std::vector<uint8_t> bytes(n);
  Read(offset, n, bytes.data(), what);
  return bytes;
}

OutputFile::OutputFile(const std::string& path) : path_(path), temp_path_(path + ".XXXXXX") {
  fd_ = ::mkstemp(temp_path_.data());
  if (fd_ < 0) throw Error(ErrorKind::kNotFound, path + ": cannot create: " + ErrnoText());
  ::fchmod(fd_, 0644);  // mkstemp creates 0600; a checkpoint is meant to be shared like any other file
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

void OutputFile::Write(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t put = ::write(fd_, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) {
      const ErrorKind kind = errno == ENOSPC || errno == EDQUOT ? ErrorKind::kResourceExhausted : ErrorKind::kDataLoss;
      throw Error(kind, path_ + ": write failed: " + ErrnoText());
    }
    p += put;
    n -= static_cast<size_t>(put);
    offset_ += static_cast<uint64_t>(put);
  }
}

void OutputFile::Commit() {
  const bool synced = ::fsync(fd_) == 0;
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!synced || !closed || ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const std::string reason = ErrnoText();
    ::unlink(temp_path_.c_str());
    throw Error(ErrorKind::kDataLoss, path_ + ": cannot finish writing: " + reason);
  }
}

}  // namespace layerscope
