// libFuzzer target: arbitrary bytes as a torch.save file (pytorch_model.bin: a zip archive holding a pickle and
// raw storages).
#include <cstddef>
#include <cstdint>
#include <variant>

#include "core/model/torch_pickle_reader.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static layerscope::fuzz::MemoryFile file;
  try {
    for (const auto& [key, value] : layerscope::ReadTorchStateDict(file.Hold(data, size))) {
      const auto* tensor = std::get_if<layerscope::HostTensor>(&value);
      if (tensor && tensor->bytes.size() != static_cast<size_t>(tensor->numel()) * DTypeSize(tensor->dtype)) {
        __builtin_trap();  // a tensor accepted with fewer or more bytes than its shape says
      }
    }
  } catch (const layerscope::Error& error) {
    layerscope::fuzz::ExpectCleanRefusal(error);
  }
  return 0;
}
