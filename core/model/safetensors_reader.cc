#include "core/model/safetensors_reader.h"

#include <nlohmann/json.hpp>

#include "core/util/error.h"

namespace layerscope {
namespace {

// The format's reference implementation refuses larger headers too; this bounds the one allocation made before
// anything else in the file has been checked.
constexpr uint64_t kMaxHeaderBytes = 100 << 20;
constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::kDataLoss, path + ": " + what);
}

[[noreturn]] void FailTensor(const std::string& path, const std::string& key, const std::string& what) {
  Fail(path, "tensor \"" + key + "\": " + what);
}

// Multiplies non-negative sizes, false on overflow past 2^62 (no real tensor comes near).
bool MultiplyChecked(uint64_t a, uint64_t b, uint64_t* out) {
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  if (a != 0 && b > kLimit / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

std::map<std::string, HostTensor> ReadSafetensors(const std::string& path) {
  InputFile file(path);
  uint8_t length_bytes[8];
  file.Read(0, sizeof(length_bytes), length_bytes, "the 8-byte header length");
  const uint64_t header_length = LoadLittleEndian(length_bytes, sizeof(length_bytes));
  if (header_length > file.size() - sizeof(length_bytes)) {
    Fail(path, "header length " + std::to_string(header_length) + " is larger than the rest of the file (" +
                   std::to_string(file.size() - sizeof(length_bytes)) + " bytes)");
  }
  if (header_length > kMaxHeaderBytes) {
    Fail(path, "header length " + std::to_string(header_length) + " exceeds the format's limit of " +
                   std::to_string(kMaxHeaderBytes) + " bytes");
  }
  const std::vector<uint8_t> header_bytes = file.ReadBytes(sizeof(length_bytes), header_length, "the JSON header");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_bytes.begin(), header_bytes.end());
  } catch (const nlohmann::json::exception& e) {
    Fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) Fail(path, "header is not a JSON object");

  const uint64_t data_start = sizeof(length_bytes) + header_length;
  const uint64_t data_size = file.size() - data_start;
  std::map<std::string, HostTensor> tensors;
  for (const auto& [key, entry] : header.items()) {
    if (key == kMetadataKey) continue;  // free-form string map; nothing of ours
    if (!entry.is_object()) FailTensor(path, key, "header entry is not a JSON object");

    const auto dtype_it = entry.find("dtype");
    HostTensor tensor;
    if (dtype_it == entry.end() || !dtype_it->is_string()) FailTensor(path, key, "\"dtype\" missing or not a string");
    if (!DTypeFromName(dtype_it->get<std::string>(), &tensor.dtype)) {
      FailTensor(
          path, key,
          "unknown dtype \"" + dtype_it->get<std::string>() + "\" (known: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    }

    const auto shape_it = entry.find("shape");
    if (shape_it == entry.end() || !shape_it->is_array()) FailTensor(path, key, "\"shape\" missing or not an array");
    uint64_t nbytes = DTypeSize(tensor.dtype);
    for (const auto& dim : *shape_it) {
      if (!dim.is_number_unsigned()) FailTensor(path, key, "\"shape\" must hold non-negative integers");
      if (!MultiplyChecked(nbytes, dim.get<uint64_t>(), &nbytes)) FailTensor(path, key, "\"shape\" is too large");
      tensor.shape.push_back(dim.get<int64_t>());
    }

    const auto offsets_it = entry.find("data_offsets");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
      FailTensor(path, key, "\"data_offsets\" missing or not two non-negative integers");
    }
    const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
    const uint64_t end = (*offsets_it)[1].get<uint64_t>();
    const std::string offsets = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end || end - begin != nbytes) {
      FailTensor(path, key,
                 offsets + " do not match dtype " + DTypeName(tensor.dtype) + " and shape " + tensor.ShapeString() +
                     ", which need " + std::to_string(nbytes) + " bytes");
    }
    if (end > data_size) {
      FailTensor(path, key,
                 offsets + " pass the end of the data (" + std::to_string(data_size) + " bytes): file truncated?");
    }
    tensor.bytes.resize(nbytes);
    file.Read(data_start + begin, nbytes, tensor.bytes.data(), "tensor \"" + key + "\"");
    tensors.emplace(key, std::move(tensor));
  }
  return tensors;
}

void WriteSafetensors(const std::string& path, const std::map<std::string, HostTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [key, tensor] : tensors) {
    bool valid_shape = true;
    for (int64_t dim : tensor.shape) valid_shape = valid_shape && dim >= 0;
    if (key == kMetadataKey || !valid_shape ||
        tensor.bytes.size() != static_cast<uint64_t>(tensor.numel()) * DTypeSize(tensor.dtype)) {
      throw Error(ErrorKind::kInvalidArgument, path + ": cannot write tensor \"" + key +
                                                   "\": " + std::to_string(tensor.bytes.size()) + " bytes for " +
                                                   DTypeName(tensor.dtype) + " " + tensor.ShapeString());
    }
    header[key] = {{"dtype", DTypeName(tensor.dtype)},
                   {"shape", tensor.shape},
                   {"data_offsets", {offset, offset + tensor.bytes.size()}}};
    offset += tensor.bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kInvalidArgument, path + ": cannot write the header: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // the reference writer aligns the data to 8 bytes the same way

  std::vector<uint8_t> length;
  AppendLittleEndian(text.size(), 8, &length);
  OutputFile out(path);
  out.Write(length.data(), length.size());
  out.Write(text.data(), text.size());
  for (const auto& [key, tensor] : tensors) out.Write(tensor.bytes.data(), tensor.bytes.size());
  out.Commit();
}

}  // namespace layerscope
