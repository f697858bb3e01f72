// Tokenizer: turns text into the token ids a model reads, and back. Two kinds exist:
// - the byte-level vocabulary of small models (the embedded model's 256 ids): a token is one UTF-8 byte;
// - a HF `tokenizer.json` with a byte-level BPE model (GPT-2, GPT-NeoX and so the Mamba checkpoints), encoding
//   exactly as the HF `tokenizers` library does (tests/fixtures/tokenizer holds the proof).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace layerscope {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids of `text`. Throws Error(kInvalidArgument) naming the byte offset if `text` is not valid UTF-8 and the
  // tokenizer needs characters (a byte-level vocabulary takes any bytes). Safe to call from several threads.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;

  // The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD. Throws Error(kInvalidArgument)
  // naming an id that has no text.
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;

  // Ids are in [0, VocabSize()).
  virtual int64_t VocabSize() const = 0;

  // The id that ends a document ("<|endoftext|>" in GPT-2 and GPT-NeoX), if this tokenizer has one.
  virtual std::optional<int32_t> EndOfTextId() const = 0;

  // What it is, for logs and reports (e.g. "byte-level (256 ids)").
  virtual std::string Describe() const = 0;
};

// The byte-level vocabulary of a model with `vocab_size` ids (at least 256): ids 0..255 are the bytes; ids above
// have no text. Throws Error(kInvalidArgument) if vocab_size < 256.
std::unique_ptr<Tokenizer> MakeByteTokenizer(int64_t vocab_size);

// Reads a HF tokenizer.json (Error(kNotFound) if it cannot be read; see ParseTokenizerJson for the rest).
std::unique_ptr<Tokenizer> LoadTokenizerFile(const std::string& path);

// A tokenizer from the text of a HF tokenizer.json; `source` names it in errors. Supported: model BPE (merges as
// "a b" strings or [a, b] pairs, ignore_merges), added_tokens, normalizer null or NFC, pre_tokenizer ByteLevel or a
// Sequence of Split (regex or string, behavior Isolated) and ByteLevel, decoder ByteLevel, post_processor null or
// ByteLevel. Anything else (another model or normalizer, BPE dropout, lstrip/rstrip/single_word added tokens, ...)
// is refused with Error(kInvalidArgument) naming the key, never silently encoded differently.
std::unique_ptr<Tokenizer> ParseTokenizerJson(const std::string& json, const std::string& source);

}  // namespace layerscope
