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

}  // namespace layerscope
