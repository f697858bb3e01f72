#include "core/data/dataset.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <unordered_map>

#include "core/util/error.h"

namespace layerscope {
namespace {

// The documents of a file in the order the options ask for. A seeded order is a permutation of the document
// indexes; its documents are fetched in batches, one pass over the file per batch keeping only that batch's, so
// memory stays bounded by a batch even for a whole C4 shard (a gzip stream cannot be read at random).
class DocumentOrder {
 public:
  DocumentOrder(const std::string& path, const SampleOptions& options)
      : path_(path), format_(options.format), limit_(options.limit) {
    if (!options.seed) {
      reader_ = OpenDocuments(path, format_, limit_);
      return;
    }
    Document doc;
    for (auto counter = OpenDocuments(path, format_, limit_); counter->Next(&doc);) order_.push_back(order_.size());
    std::mt19937_64 random(*options.seed);
    // The modulo's bias is below 2^-40 for any file that fits a disk, and, unlike the standard distributions, its
    // result is the same with every standard library.
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[random() % i]);
    batch_size_ = std::max<size_t>(2 * static_cast<size_t>(options.count), 16);
  }

  bool Next(Document* doc) {
    if (reader_) return reader_->Next(doc);
    if (in_batch_ == batch_.size() && !LoadBatch()) return false;
    *doc = std::move(batch_[in_batch_++]);
    return true;
  }

 private:
  // Reads the next batch_size_ documents of order_, and doubles the size for the batch after (when many documents
  // are skipped as short, fewer passes are needed).
  bool LoadBatch() {
    if (next_ == order_.size()) return false;
    const size_t n = std::min(batch_size_, order_.size() - next_);
    std::unordered_map<size_t, size_t> slot_of_index;
    for (size_t k = 0; k < n; ++k) slot_of_index[order_[next_ + k]] = k;
    batch_.assign(n, Document());
    const auto reader = OpenDocuments(path_, format_, limit_);
    Document doc;
    size_t found = 0;
    for (size_t index = 0; found < n && reader->Next(&doc); ++index) {
      const auto it = slot_of_index.find(index);
      if (it == slot_of_index.end()) continue;
      batch_[it->second] = std::move(doc);
      ++found;
    }
    if (found < n) throw Error(ErrorKind::kDataLoss, path_ + ": the file changed while samples were drawn from it");
    next_ += n;
    in_batch_ = 0;
    batch_size_ *= 2;
    return true;
  }

  std::string path_;
  DatasetFormat format_;
  ReadLimit limit_;
  std::unique_ptr<DocumentReader> reader_;  // file order
  std::vector<size_t> order_;               // seeded order: document indexes
  size_t next_ = 0;                         // the first index of order_ not yet in a batch
  size_t batch_size_ = 0;
  std::vector<Document> batch_;
  size_t in_batch_ = 0;
};

std::vector<int32_t> Tokens(Document& doc, const Tokenizer& tokenizer) {
  if (!doc.tokenized) {
    try {
      return tokenizer.Encode(doc.text);
    } catch (const Error& e) {
      throw Error(e.kind(), doc.where + ": " + e.what());
    }
  }
  for (size_t i = 0; i < doc.ids.size(); ++i) {
    if (doc.ids[i] < 0 || doc.ids[i] >= tokenizer.VocabSize()) {
      throw Error(ErrorKind::kInvalidArgument, doc.where + " column " + std::to_string(i) + ": id " +
                                                   std::to_string(doc.ids[i]) + " is outside the vocabulary [0, " +
                                                   std::to_string(tokenizer.VocabSize()) + ") of " +
                                                   tokenizer.Describe());
    }
  }
  return std::move(doc.ids);
}

std::string OrderName(const SampleOptions& options) {
  return options.seed ? "in the order of seed " + std::to_string(*options.seed) : "in file order";
}

}  // namespace

Samples DrawSamples(const std::string& path, const Tokenizer& tokenizer, const SampleOptions& options) {
  if (options.count <= 0 || options.seq_len <= 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "samples and seq_len must be positive, got samples=" + std::to_string(options.count) +
                    " seq_len=" + std::to_string(options.seq_len));
  }
  const std::optional<int32_t> separator = options.separator ? options.separator : tokenizer.EndOfTextId();
  if (separator && (*separator < 0 || *separator >= tokenizer.VocabSize())) {
    throw Error(ErrorKind::kInvalidArgument,
                "separator id " + std::to_string(*separator) + " is outside the vocabulary of " + tokenizer.Describe());
  }
  const size_t count = static_cast<size_t>(options.count);
  const size_t seq_len = static_cast<size_t>(options.seq_len);
  const bool packed = options.layout == SampleLayout::kPacked;

  DocumentOrder order(path, options);
  Samples out;
  std::vector<int32_t> stream;  // packed: ids not yet cut into a sample
  Document doc;
  while (out.ids.size() < count && order.Next(&doc)) {
    std::vector<int32_t> ids = Tokens(doc, tokenizer);
    ++out.documents_used;
    if (!packed) {
      if (ids.size() < seq_len) {
        ++out.documents_skipped;
        continue;
      }
      ids.resize(seq_len);
      out.ids.push_back(std::move(ids));
      continue;
    }
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (separator) stream.push_back(*separator);
    size_t cut = 0;
    for (; stream.size() - cut >= seq_len && out.ids.size() < count; cut += seq_len) {
      out.ids.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(cut),
                           stream.begin() + static_cast<std::ptrdiff_t>(cut + seq_len));
    }
    stream.erase(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(cut));
  }

  const std::string format =
      DatasetFormatName(options.format == DatasetFormat::kAuto ? FormatOfPath(path) : options.format);
  const std::string source =
      std::to_string(out.documents_used) + " documents of " + path + " (" + format + ") " + OrderName(options);
  if (out.ids.size() < count) {
    if (packed) {
      throw Error(ErrorKind::kInvalidArgument,
                  path + ": " + std::to_string(count) + " samples of " + std::to_string(seq_len) + " tokens need " +
                      std::to_string(count * seq_len) + " tokens; its " + std::to_string(out.documents_used) +
                      " documents give " + std::to_string(out.ids.size() * seq_len + stream.size()) +
                      ": use a shorter seq_len or fewer samples");
    }
    throw Error(ErrorKind::kInvalidArgument,
                path + ": " + std::to_string(count) + " samples need " + std::to_string(count) +
                    " documents of at least " + std::to_string(seq_len) + " tokens; it has " +
                    std::to_string(out.ids.size()) + " among " + std::to_string(out.documents_used) + " (" +
                    std::to_string(out.documents_skipped) +
                    " shorter): use packed samples, a shorter seq_len or fewer samples");
  }
  out.description =
      std::to_string(count) + " x " + std::to_string(seq_len) + " tokens, " +
      (packed ? "packed from " + source + (separator ? ", each followed by id " + std::to_string(*separator) : "")
              : "one per document, truncated, from " + source + ", " + std::to_string(out.documents_skipped) +
                    " shorter skipped");
  return out;
}

}  // namespace layerscope
