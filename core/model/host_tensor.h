// HostTensor: a dense, row-major tensor in host memory, as read from or written to a checkpoint file.
// Plain C++ so that readers, writers and their tests need no LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace layerscope {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// Safetensors spelling: "F32", "F16", "BF16", "I8", ...
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct HostTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // numel() * DTypeSize(dtype) bytes, row-major

  int64_t numel() const;
  // "[2, 3]"
  std::string ShapeString() const;
  // Every element converted to double (fp16/bf16 decoded exactly).
  std::vector<double> ToDoubles() const;
  // A float32 tensor of the given shape and values.
  static HostTensor FromFloats(std::vector<int64_t> shape, const std::vector<float>& values);
};

// "[2, 3]"
std::string ShapeString(const std::vector<int64_t>& shape);

// The inverse of DTypeName; false for a name that is not one of ours.
bool DTypeFromName(const std::string& name, DType* dtype);

// Exact conversions of IEEE half and bfloat16 bit patterns.
float HalfToFloat(uint16_t bits);
float BFloat16ToFloat(uint16_t bits);

// Every file format read or written here (safetensors, zip, pickle, tensor data) is little-endian, and so is every
// host we build for; these load and append unsigned integers of `n` bytes (1 to 8).
uint64_t LoadLittleEndian(const uint8_t* p, size_t n);
void AppendLittleEndian(uint64_t value, size_t n, std::vector<uint8_t>* out);

// A regular file opened for reads at any offset. Every read is checked against the file's size first, so a
// corrupt length or offset read from the file can cause neither an out-of-bounds read nor a huge allocation.
class InputFile {
 public:
  // Throws Error(kNotFound) naming `path` when it does not exist or is not a regular file.
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // Reads [offset, offset + n) into dst. Throws Error(kDataLoss) naming the file and `what` when the range passes
  // the end of the file (a truncated file) or the read fails.
  void Read(uint64_t offset, uint64_t n, void* dst, const std::string& what) const;
  std::vector<uint8_t> ReadBytes(uint64_t offset, uint64_t n, const std::string& what) const;

 private:
  void CheckRange(uint64_t offset, uint64_t n, const std::string& what) const;

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// A file written under a temporary name and renamed into place by Commit(), so that a failed or interrupted write
// never leaves a partial checkpoint under the final name. Throws Error naming the file on any failure.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path);
  ~OutputFile();  // removes the temporary file unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void Write(const void* data, size_t n);
  uint64_t offset() const { return offset_; }
  void Commit();

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
};

}  // namespace layerscope
