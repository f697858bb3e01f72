#include "core/data/byte_level.h"

#include <array>
#include <unordered_map>

namespace layerscope {
namespace {

bool StandsForItself(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

std::string Utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

struct Alphabet {
  std::array<std::string, 256> symbols;
  std::unordered_map<char32_t, unsigned char> bytes;

  Alphabet() {
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const char32_t c = StandsForItself(b) ? static_cast<char32_t>(b) : next++;
      symbols[b] = Utf8(c);
      bytes[c] = static_cast<unsigned char>(b);
    }
  }
};

const Alphabet& TheAlphabet() {
  static const Alphabet alphabet;
  return alphabet;
}

}  // namespace

const std::string& ByteLevelSymbol(unsigned char b) { return TheAlphabet().symbols[b]; }

std::optional<unsigned char> ByteOfSymbol(char32_t code_point) {
  const auto& bytes = TheAlphabet().bytes;
  const auto it = bytes.find(code_point);
  if (it == bytes.end()) return std::nullopt;
  return it->second;
}

}  // namespace layerscope
