// Reading and writing the safetensors format (8-byte little-endian header length, JSON header, raw data).
#pragma once

#include <map>
#include <string>

#include "core/model/host_tensor.h"

namespace layerscope {

// Reads every tensor of one .safetensors file. Throws Error (kNotFound, kDataLoss) whose message names the
// file and, where one is at fault, the tensor key and what was expected (truncated data, bad offsets, bad dtype).
std::map<std::string, HostTensor> ReadSafetensors(const std::string& path);

// Writes tensors (sorted by key, as the format's reference writer does) to a .safetensors file.
void WriteSafetensors(const std::string& path, const std::map<std::string, HostTensor>& tensors);

}  // namespace layerscope
