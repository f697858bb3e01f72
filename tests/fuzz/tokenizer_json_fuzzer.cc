// libFuzzer target: arbitrary bytes as a HF tokenizer.json. One that is accepted must then encode and decode a
// fixed text that exercises its pre-tokenizer (letters, digits, spaces, punctuation, non-ASCII).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/data/tokenizer.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  try {
    const auto tokenizer = layerscope::ParseTokenizerJson(json, "fuzz.json");
    const auto ids = tokenizer->Encode("Hello  world 123, caf\xC3\xA9!\n\tx");
    for (int32_t id : ids) {
      if (id < 0 || id >= tokenizer->VocabSize()) __builtin_trap();  // an id outside its own vocabulary
    }
    tokenizer->Decode(ids);
  } catch (const layerscope::Error& error) {
    layerscope::fuzz::ExpectCleanRefusal(error);
  }
  return 0;
}
