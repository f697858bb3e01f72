// UTF-8 text helpers the tokenizers need: validation, the lossy repair HF `tokenizers` applies when decoded bytes
// are not valid UTF-8, and Unicode NFC normalization (GPT-NeoX's tokenizer normalizes its input to NFC).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace layerscope {

// The offset of the first byte that does not start or continue a well-formed UTF-8 sequence, or npos.
size_t FindInvalidUtf8(std::string_view bytes);

// `bytes` with every ill-formed sequence replaced by U+FFFD, one per maximal subpart (Rust's from_utf8_lossy and
// Python's errors="replace" agree on this rule, so decoded text matches HF `tokenizers` byte for byte).
std::string RepairUtf8(std::string_view bytes);

// The NFC form of valid UTF-8 `text` (ICU).
std::string NormalizeNfc(std::string_view text);

}  // namespace layerscope
