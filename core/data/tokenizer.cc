#include "core/data/tokenizer.h"

#include <fstream>
#include <sstream>

#include "core/data/utf8_text.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

class ByteTokenizer : public Tokenizer {
 public:
  explicit ByteTokenizer(int64_t vocab_size) : vocab_size_(vocab_size) {}

  std::vector<int32_t> Encode(std::string_view text) const override {
    std::vector<int32_t> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string bytes(ids.size(), '\0');
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] > 255) {
        throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(ids[i]) + " (at " + std::to_string(i) +
                                                     ") is not a byte; a byte-level vocabulary decodes ids 0..255");
      }
      bytes[i] = static_cast<char>(ids[i]);
    }
    return RepairUtf8(bytes);
  }

  int64_t VocabSize() const override { return vocab_size_; }
  std::optional<int32_t> EndOfTextId() const override { return std::nullopt; }
  std::string Describe() const override { return "byte-level (" + std::to_string(vocab_size_) + " ids)"; }

 private:
  int64_t vocab_size_;
};

}  // namespace

std::unique_ptr<Tokenizer> MakeByteTokenizer(int64_t vocab_size) {
  if (vocab_size < 256) {
    throw Error(ErrorKind::kInvalidArgument,
                "a byte-level vocabulary needs at least 256 ids, the model has " + std::to_string(vocab_size));
  }
  return std::make_unique<ByteTokenizer>(vocab_size);
}

std::unique_ptr<Tokenizer> LoadTokenizerFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kNotFound, "cannot read tokenizer file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseTokenizerJson(text.str(), path);
}

}  // namespace layerscope
