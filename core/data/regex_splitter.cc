#include "core/data/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/util/error.h"

namespace layerscope {
namespace {

std::string Pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

size_t Utf8CharLength(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

struct RegexSplitter::Code {
  pcre2_code* code = nullptr;
};

RegexSplitter::RegexSplitter(const std::string& pattern, bool literal, const std::string& where)
    : code_(new Code), where_(where) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  code_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error, &offset, nullptr);
  if (code_->code == nullptr) {
    delete code_;
    throw Error(ErrorKind::kInvalidArgument, where + ": bad regex at offset " + std::to_string(offset) + ": " +
                                                 Pcre2Message(error) + " (pattern: " + pattern + ")");
  }
  // JIT makes matching several times faster; where the platform has no JIT, the interpreter gives the same matches.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

RegexSplitter::~RegexSplitter() {
  pcre2_code_free(code_->code);
  delete code_;
}

void RegexSplitter::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t done = 0;   // text before this is in *pieces
  size_t start = 0;  // where the next match is looked for
  while (start < text.size()) {
    // The caller checked the text is UTF-8 (it names the offending document), so PCRE2 need not check it again.
    const int rc = pcre2_match(code_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(match);
      throw Error(ErrorKind::kInternal, where_ + ": regex match failed: " + Pcre2Message(rc));
    }
    const PCRE2_SIZE* span = pcre2_get_ovector_pointer(match);
    if (span[1] == span[0]) {  // an empty match cuts nothing; look again one character on
      if (span[0] >= text.size()) break;
      start = span[0] + Utf8CharLength(static_cast<unsigned char>(text[span[0]]));
      continue;
    }
    if (span[0] > done) pieces->push_back(text.substr(done, span[0] - done));
    pieces->push_back(text.substr(span[0], span[1] - span[0]));
    done = start = span[1];
  }
  if (done < text.size()) pieces->push_back(text.substr(done));
  pcre2_match_data_free(match);
}

}  // namespace layerscope
