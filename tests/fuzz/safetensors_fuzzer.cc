// libFuzzer target: arbitrary bytes as a .safetensors file (header length, JSON header, tensor data).
#include <cstddef>
#include <cstdint>

#include "core/model/safetensors_reader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static layerscope::fuzz::MemoryFile file;
  try {
    for (const auto& [key, tensor] : layerscope::ReadSafetensors(file.Hold(data, size))) {
      if (tensor.bytes.size() != static_cast<size_t>(tensor.numel()) * layerscope::DTypeSize(tensor.dtype)) {
        __builtin_trap();  // a tensor accepted with fewer or more bytes than its shape says
      }
    }
  } catch (const layerscope::Error& error) {
    layerscope::fuzz::ExpectCleanRefusal(error);
  }
  return 0;
}
