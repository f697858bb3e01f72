// The GPT-2 byte-level alphabet: each of the 256 byte values stands for one printable Unicode character, so that a
// byte-level BPE vocabulary (GPT-2, GPT-NeoX, HF `tokenizers` ByteLevel) can spell any byte string with visible
// symbols (the space byte is "Ġ", U+0120). The printable Latin-1 bytes stand for themselves; the others (controls,
// space, DEL, NBSP, soft hyphen) take U+0100 onwards in byte order.
#pragma once

#include <optional>
#include <string>

namespace layerscope {

// The character (as UTF-8) byte `b` stands for.
const std::string& ByteLevelSymbol(unsigned char b);

// The byte the character `code_point` stands for, if it is one of the 256 symbols.
std::optional<unsigned char> ByteOfSymbol(char32_t code_point);

}  // namespace layerscope
