// RegexSplitter: cuts text into the pieces a tokenizer's pre-tokenizer regex gives, HF `tokenizers`' "isolated"
// split: every match is a piece, and so is every run of text between matches. The pattern is compiled by PCRE2 in
// UTF mode with Unicode properties (UCP), so \s, \p{L} and \p{N} mean what they mean in Oniguruma, which HF uses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace layerscope {

class RegexSplitter {
 public:
  // Compiles `pattern` (PCRE2 syntax; with literal = true, the text itself). Throws Error(kInvalidArgument) naming
  // `where`, the offset and PCRE2's reason on a bad pattern.
  RegexSplitter(const std::string& pattern, bool literal, const std::string& where);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends the pieces of `text` (valid UTF-8, views into it) to *pieces, in order. Safe to call from several threads.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  struct Code;
  Code* code_;
  std::string where_;
};

}  // namespace layerscope
