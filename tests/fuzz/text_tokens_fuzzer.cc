// libFuzzer target: arbitrary bytes as the text of DataSource.text, tokenized by the GPT-NeoX tokenizer.json
// fixture and decoded back; then the same bytes read as token ids and decoded. Valid UTF-8 must round-trip.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/data/tokenizer.h"
#include "core/data/utf8_text.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

const layerscope::Tokenizer& NeoxTokenizer() {
  static const std::unique_ptr<layerscope::Tokenizer> tokenizer =
      layerscope::LoadTokenizerFile(LAYERSCOPE_SOURCE_DIR "/tests/fixtures/tokenizer/neox.json");
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const layerscope::Tokenizer& tokenizer = NeoxTokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const std::vector<int32_t> ids = tokenizer.Encode(text);
    if (tokenizer.Decode(ids) != text) {
      // Encode accepted the text, so it is valid UTF-8; byte-level BPE loses nothing of it (NFC aside).
      const std::string normalized = layerscope::NormalizeNfc(text);
      if (tokenizer.Decode(ids) != normalized) __builtin_trap();
    }
  } catch (const layerscope::Error& error) {
    layerscope::fuzz::ExpectCleanRefusal(error);
  }
  std::vector<int32_t> raw_ids(size / sizeof(int32_t));
  if (!raw_ids.empty()) std::memcpy(raw_ids.data(), data, raw_ids.size() * sizeof(int32_t));
  try {
    tokenizer.Decode(raw_ids);
  } catch (const layerscope::Error& error) {
    layerscope::fuzz::ExpectCleanRefusal(error);
  }
  return 0;
}
