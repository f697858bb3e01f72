#include "core/data/utf8_text.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include "core/util/error.h"

namespace layerscope {
namespace {

// The length of the well-formed UTF-8 sequence at bytes[i], or 0 if it is ill-formed; *valid_prefix is then the
// length of its maximal subpart (at least 1), the bytes one U+FFFD replaces.
size_t SequenceLength(std::string_view bytes, size_t i, size_t* valid_prefix) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = byte(i);
  *valid_prefix = 1;
  if (lead < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte, narrower after some leads
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    if (i + k >= bytes.size()) return 0;
    const unsigned char c = byte(i + k);
    const bool ok = k == 1 ? (c >= low && c <= high) : (c >= 0x80 && c <= 0xBF);
    if (!ok) return 0;
    *valid_prefix = k + 1;
  }
  return length;
}

}  // namespace

size_t FindInvalidUtf8(std::string_view bytes) {
  size_t prefix;
  for (size_t i = 0; i < bytes.size();) {
    const size_t length = SequenceLength(bytes, i, &prefix);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

std::string RepairUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t prefix;
  for (size_t i = 0; i < bytes.size();) {
    const size_t length = SequenceLength(bytes, i, &prefix);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      i += prefix;
    } else {
      out.append(bytes.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string NormalizeNfc(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  std::string out;
  if (U_SUCCESS(status)) {
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    nfc->normalizeUTF8(0, icu::StringPiece(text.data(), static_cast<int32_t>(text.size())), sink, nullptr, status);
  }
  if (U_FAILURE(status)) {
    throw Error(ErrorKind::kInternal, std::string("NFC normalization failed (ICU: ") + u_errorName(status) + ")");
  }
  return out;
}

}  // namespace layerscope
