// ParseTokenizerJson: a HF tokenizer.json with a byte-level BPE model, encoding as HF `tokenizers` does:
//   1. split the raw text on the added tokens that match before normalization (the special ones, usually);
//   2. normalize each remaining part (NFC or nothing) and split it on the added tokens that match after it;
//   3. pre-tokenize each remaining part (Split regexes, then ByteLevel: optional prefix space, GPT-2 regex);
//   4. spell each piece's bytes with the byte-level alphabet and apply BPE merges, lowest rank first.
#include <algorithm>
#include <deque>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "core/data/byte_level.h"
#include "core/data/regex_splitter.h"
#include "core/data/tokenizer.h"
#include "core/data/utf8_text.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

using Json = nlohmann::json;

// The pre-tokenizer regex of GPT-2 and of HF's ByteLevel(use_regex = true).
constexpr char kGpt2Pattern[] = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// HF keeps a cache of the same order; words repeat a lot in text, so most pieces skip the merge loop.
constexpr size_t kCacheEntries = 65536;

constexpr char kEndOfText[] = "<|endoftext|>";

// The code points of valid UTF-8 `text`.
std::vector<char32_t> CodePoints(std::string_view text) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t c = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    out.push_back(c);
    i += length;
  }
  return out;
}

// The bytes a token stands for, as HF's ByteLevel decoder finds them: if every character is a byte-level symbol,
// the bytes they stand for; otherwise (an added token such as a run of spaces) the token's own UTF-8.
std::string TokenBytes(const std::string& token) {
  std::string bytes;
  for (char32_t c : CodePoints(token)) {
    const auto b = ByteOfSymbol(c);
    if (!b) return token;
    bytes += static_cast<char>(*b);
  }
  return bytes;
}

// Finds added tokens in text, leftmost first and the longest of those starting there (HF's matching rule).
class AddedTokenMatcher {
 public:
  void Add(const std::string& content, int32_t id) {
    auto& bucket = by_first_byte_[static_cast<unsigned char>(content[0])];
    bucket.emplace_back(content, id);
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }

  // Calls on_text(part) for each non-empty run between tokens and on_token(id) for each token, in order.
  template <class OnText, class OnToken>
  void Split(std::string_view text, const OnText& on_text, const OnToken& on_token) const {
    size_t done = 0;
    for (size_t i = 0; i < text.size();) {
      const auto* match = Longest(text, i);
      if (match == nullptr) {
        ++i;
        continue;
      }
      if (i > done) on_text(text.substr(done, i - done));
      on_token(match->second);
      i += match->first.size();
      done = i;
    }
    if (done < text.size()) on_text(text.substr(done));
  }

 private:
  const std::pair<std::string, int32_t>* Longest(std::string_view text, size_t at) const {
    for (const auto& token : by_first_byte_[static_cast<unsigned char>(text[at])]) {
      if (text.compare(at, token.first.size(), token.first) == 0) return &token;
    }
    return nullptr;
  }

  std::vector<std::pair<std::string, int32_t>> by_first_byte_[256];
};

// One step of the pre-tokenizer: a Split by regex, or ByteLevel (prefix space, then maybe the GPT-2 regex).
struct PreTokenizerStep {
  std::unique_ptr<RegexSplitter> splitter;
  bool add_prefix_space = false;
};

struct Merge {
  uint32_t rank;
  int32_t id;
};

uint64_t PairKey(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

[[noreturn]] void Refuse(const std::string& source, const std::string& key, const std::string& why) {
  throw Error(ErrorKind::kInvalidArgument, source + ": " + key + ": " + why);
}

class HfBpeTokenizer : public Tokenizer {
 public:
  HfBpeTokenizer(const Json& root, const std::string& source) : source_(source) {
    // Ids index the token table: bound them by the number of tokens the file declares (HF numbers its tokens from
    // 0 without gaps), so that one huge id in an uploaded file cannot make that table take gigabytes.
    max_ids_ = root.at("model").at("vocab").size() + root.value("added_tokens", Json::array()).size();
    ReadModel(root.at("model"));
    ReadNormalizer(root.value("normalizer", Json()));
    ReadAddedTokens(root.value("added_tokens", Json::array()));
    ReadPreTokenizer(root.value("pre_tokenizer", Json()));
    const Json decoder = root.value("decoder", Json());
    if (!decoder.is_object() || decoder.value("type", "") != "ByteLevel") {
      Refuse(source_, "decoder", "only ByteLevel is supported, found " + decoder.dump());
    }
    const Json post = root.value("post_processor", Json());
    if (!post.is_null() && post.value("type", "") != "ByteLevel") {
      Refuse(source_, "post_processor",
             "only null or ByteLevel (which adds no tokens) is supported, found type " +
                 post.value("type", std::string("?")));
    }
  }

  std::vector<int32_t> Encode(std::string_view text) const override {
    const size_t bad = FindInvalidUtf8(text);
    if (bad != std::string_view::npos) {
      throw Error(ErrorKind::kInvalidArgument, "text is not valid UTF-8 at byte offset " + std::to_string(bad));
    }
    std::vector<int32_t> ids;
    const auto add_token = [&](int32_t id) { ids.push_back(id); };
    raw_added_.Split(
        text,
        [&](std::string_view part) {
          const std::string normalized = nfc_ ? NormalizeNfc(part) : std::string(part);
          normalized_added_.Split(
              normalized, [&](std::string_view rest) { EncodeWords(rest, &ids); }, add_token);
        },
        add_token);
    return ids;
  }

  std::string Decode(const std::vector<int32_t>& ids) const override {
    std::string bytes;
    for (size_t i = 0; i < ids.size(); ++i) {
      const int32_t id = ids[i];
      if (id < 0 || id >= VocabSize() || !known_[id]) {
        throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(id) + " (at " + std::to_string(i) +
                                                     ") is not in the vocabulary of " + source_);
      }
      bytes += bytes_of_id_[id];
    }
    return RepairUtf8(bytes);
  }

  int64_t VocabSize() const override { return static_cast<int64_t>(bytes_of_id_.size()); }

  std::optional<int32_t> EndOfTextId() const override { return end_of_text_; }

  std::string Describe() const override {
    return "byte-level BPE " + source_ + " (" + std::to_string(VocabSize()) + " ids, " +
           std::to_string(merges_.size()) + " merges)";
  }

 private:
  void SetToken(int32_t id, const std::string& token, const std::string& key) {
    if (id < 0) Refuse(source_, key, "negative id " + std::to_string(id));
    if (static_cast<size_t>(id) >= max_ids_) {
      Refuse(source_, key,
             "id " + std::to_string(id) + " is not below " + std::to_string(max_ids_) +
                 ", the number of tokens in model.vocab and added_tokens (ids count the tokens from 0)");
    }
    if (static_cast<size_t>(id) >= bytes_of_id_.size()) {
      bytes_of_id_.resize(id + 1);
      known_.resize(id + 1, false);
    }
    bytes_of_id_[id] = TokenBytes(token);
    known_[id] = true;
    if (token == kEndOfText) end_of_text_ = id;
  }

  void ReadModel(const Json& model) {
    if (model.value("type", "") != "BPE") Refuse(source_, "model.type", "only BPE is supported");
    if (!model.value("dropout", Json()).is_null()) Refuse(source_, "model.dropout", "BPE dropout is not supported");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const Json value = model.value(key, Json());
      if (!value.is_null() && value != "") Refuse(source_, std::string("model.") + key, "is not supported");
    }
    if (model.value("byte_fallback", false)) Refuse(source_, "model.byte_fallback", "is not supported");
    ignore_merges_ = model.value("ignore_merges", false);

    for (const auto& [token, id] : model.at("vocab").items()) {
      const int32_t value = TokenId(id, "model.vocab");
      if (!vocab_.emplace(token, value).second) Refuse(source_, "model.vocab", "token " + token + " twice");
      if (value >= 0 && static_cast<size_t>(value) < known_.size() && known_[value]) {
        Refuse(source_, "model.vocab", "id " + std::to_string(value) + " given to two tokens");
      }
      SetToken(value, token, "model.vocab");
    }
    for (int b = 0; b < 256; ++b) {
      const auto it = vocab_.find(ByteLevelSymbol(static_cast<unsigned char>(b)));
      if (it == vocab_.end()) {
        Refuse(source_, "model.vocab",
               "lacks the byte-level symbol " + ByteLevelSymbol(static_cast<unsigned char>(b)) + " of byte " +
                   std::to_string(b) + ", so this is not a byte-level BPE vocabulary");
      }
      byte_ids_[b] = it->second;
    }

    const Json& merges = model.at("merges");
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const Json& merge = merges[rank];
      const std::string key = "model.merges[" + std::to_string(rank) + "]";
      std::string left, right;
      if (merge.is_string()) {  // the older "a b" form
        const std::string text = merge.get<std::string>();
        const size_t space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
          Refuse(source_, key, "\"" + text + "\" is not two tokens separated by one space");
        }
        left = text.substr(0, space);
        right = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2) {  // the [a, b] form of tokenizers >= 0.20
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        Refuse(source_, key, "neither \"a b\" nor [a, b]: " + merge.dump());
      }
      const auto a = vocab_.find(left), b = vocab_.find(right), merged = vocab_.find(left + right);
      if (a == vocab_.end() || b == vocab_.end() || merged == vocab_.end()) {
        Refuse(source_, key, "a part or the merged token " + left + right + " is not in model.vocab");
      }
      merges_.emplace(PairKey(a->second, b->second), Merge{static_cast<uint32_t>(rank), merged->second});
    }
  }

  // Added tokens are matched in the raw or in the normalized text depending on their flag; NFC is applied to the
  // contents of the latter so that they match what normalization makes of the text.
  // A token id: a JSON integer in int32's range (nlohmann's get<int32_t> would convert a float such as 8e36 with
  // undefined behaviour, and wrap a large integer).
  int32_t TokenId(const Json& id, const std::string& field) const {
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    const bool in_range = id.is_number_unsigned()  ? id.get<uint64_t>() <= static_cast<uint64_t>(kMax)
                          : id.is_number_integer() ? id.get<int64_t>() >= 0 && id.get<int64_t>() <= kMax
                                                   : false;
    if (!in_range)
      Refuse(source_, field, "id " + id.dump() + " is not an integer in [0, " + std::to_string(kMax) + "]");
    return static_cast<int32_t>(id.get<int64_t>());
  }

  void ReadAddedTokens(const Json& added) {
    for (size_t i = 0; i < added.size(); ++i) {
      const Json& token = added[i];
      const std::string key = "added_tokens[" + std::to_string(i) + "]";
      for (const char* flag : {"single_word", "lstrip", "rstrip"}) {
        if (token.value(flag, false)) Refuse(source_, key + "." + flag, "true is not supported");
      }
      const std::string content = token.at("content").get<std::string>();
      if (content.empty()) Refuse(source_, key + ".content", "is empty");
      const int32_t id = TokenId(token.at("id"), key + ".id");
      SetToken(id, content, key);
      if (token.value("normalized", true)) {
        normalized_added_.Add(nfc_ ? NormalizeNfc(content) : content, id);
      } else {
        raw_added_.Add(content, id);
      }
    }
  }

  void ReadNormalizer(const Json& normalizer) {
    const std::string key = "normalizer";
    if (normalizer.is_null()) return;
    const std::string type = normalizer.value("type", "");
    if (type == "NFC") {
      nfc_ = true;
    } else if (type == "Sequence" && normalizer.at("normalizers").empty()) {
      return;
    } else if (type == "Sequence" && normalizer.at("normalizers").size() == 1) {
      ReadNormalizer(normalizer.at("normalizers")[0]);
    } else {
      Refuse(source_, key, "only null or NFC is supported, found " + normalizer.dump());
    }
  }

  void ReadPreTokenizer(const Json& pre) {
    std::vector<Json> steps;
    if (pre.is_object() && pre.value("type", "") == "Sequence") {
      for (const Json& step : pre.at("pretokenizers")) steps.push_back(step);
    } else {
      steps.push_back(pre);
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      const Json& step = steps[i];
      const std::string key = "pre_tokenizer" + (steps.size() > 1 ? ".pretokenizers[" + std::to_string(i) + "]" : "");
      const std::string type = step.is_object() ? step.value("type", "") : "";
      const bool last = i + 1 == steps.size();
      PreTokenizerStep out;
      if (type == "Split" && !last) {
        if (step.value("behavior", "") != "Isolated") Refuse(source_, key + ".behavior", "only Isolated is supported");
        if (step.value("invert", false)) Refuse(source_, key + ".invert", "true is not supported");
        const Json& pattern = step.at("pattern");
        if (pattern.contains("Regex")) {
          out.splitter =
              std::make_unique<RegexSplitter>(pattern["Regex"].get<std::string>(), false, source_ + ": " + key);
        } else {
          out.splitter =
              std::make_unique<RegexSplitter>(pattern.at("String").get<std::string>(), true, source_ + ": " + key);
        }
      } else if (type == "ByteLevel" && last) {
        out.add_prefix_space = step.value("add_prefix_space", true);
        if (step.value("use_regex", true))
          out.splitter = std::make_unique<RegexSplitter>(kGpt2Pattern, false, "GPT-2 regex");
      } else {
        Refuse(source_, key,
               "supported are ByteLevel, or a Sequence of Split (Isolated) steps ending in ByteLevel; found " +
                   step.dump());
      }
      pre_tokenizer_.push_back(std::move(out));
    }
  }

  // Pre-tokenizes `text` and appends the BPE ids of each piece.
  void EncodeWords(std::string_view text, std::vector<int32_t>* ids) const {
    std::vector<std::string_view> pieces{text};
    std::deque<std::string> prefixed;  // pieces given a leading space; a deque keeps the views into them valid
    for (const PreTokenizerStep& step : pre_tokenizer_) {
      std::vector<std::string_view> next;
      for (std::string_view piece : pieces) {
        if (step.add_prefix_space && piece.front() != ' ') {
          prefixed.push_back(" " + std::string(piece));
          piece = prefixed.back();
        }
        if (step.splitter) {
          step.splitter->Split(piece, &next);
        } else {
          next.push_back(piece);
        }
      }
      pieces.swap(next);
    }
    for (std::string_view piece : pieces) Bpe(piece, ids);
  }

  void Bpe(std::string_view piece, std::vector<int32_t>* ids) const {
    const std::string key(piece);
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      const auto it = cache_.find(key);
      if (it != cache_.end()) {
        ids->insert(ids->end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> word;
    if (ignore_merges_) {
      std::string spelled;
      for (char c : piece) spelled += ByteLevelSymbol(static_cast<unsigned char>(c));
      const auto it = vocab_.find(spelled);
      if (it != vocab_.end()) word.push_back(it->second);
    }
    if (word.empty()) {
      for (char c : piece) word.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      MergeAll(&word);
    }
    ids->insert(ids->end(), word.begin(), word.end());
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_.emplace(key, std::move(word));
  }

  // Merges the adjacent pair of lowest rank (the leftmost of equals) until no pair has a merge.
  void MergeAll(std::vector<int32_t>* word) const {
    while (word->size() > 1) {
      size_t best = 0;
      const Merge* best_merge = nullptr;
      for (size_t i = 0; i + 1 < word->size(); ++i) {
        const auto it = merges_.find(PairKey((*word)[i], (*word)[i + 1]));
        if (it != merges_.end() && (best_merge == nullptr || it->second.rank < best_merge->rank)) {
          best = i;
          best_merge = &it->second;
        }
      }
      if (best_merge == nullptr) return;
      (*word)[best] = best_merge->id;
      word->erase(word->begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
  }

  std::string source_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t byte_ids_[256] = {};
  bool ignore_merges_ = false;
  AddedTokenMatcher raw_added_, normalized_added_;
  bool nfc_ = false;
  std::vector<PreTokenizerStep> pre_tokenizer_;
  std::vector<std::string> bytes_of_id_;  // what each id decodes to
  std::vector<bool> known_;               // whether an id has a token (ids may have gaps)
  size_t max_ids_ = 0;                    // ids are below it
  std::optional<int32_t> end_of_text_;

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace

std::unique_ptr<Tokenizer> ParseTokenizerJson(const std::string& json, const std::string& source) {
  try {
    return std::make_unique<HfBpeTokenizer>(Json::parse(json), source);
  } catch (const Json::exception& e) {
    throw Error(ErrorKind::kInvalidArgument, source + ": not a usable tokenizer.json: " + e.what());
  }
}

}  // namespace layerscope
