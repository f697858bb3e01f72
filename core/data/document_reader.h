// DocumentReader: the documents of a dataset file, one at a time, in file order. Formats:
// - JSON lines (names ending .jsonl or .json: the C4 shard layout): one JSON object per line whose "text" field is a
//   document; other fields are ignored, blank lines skipped;
// - token ids (.npy, int32 or int64, C order): each row of a 2-D array is a document; a 1-D array is one document;
// - plain text (any other name): the whole file is one document.
// Any of them may be gzip'd: compression is detected from the content, and the format from the name without ".gz"
// (so C4's "c4-train.00000-of-01024.json.gz" is JSON lines).
// A file is read under a ReadLimit, so that a small gzip'd file cannot inflate into more memory or time than allowed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace layerscope {

enum class DatasetFormat { kAuto, kText, kJsonLines, kTokenIds };

// "plain text", "JSON lines", "token ids (.npy)" or "auto".
std::string DatasetFormatName(DatasetFormat format);

// The format a file's name says it has.
DatasetFormat FormatOfPath(const std::string& path);

// The most bytes one pass over a dataset file may read once decompressed. It bounds the whole file (the time a pass
// takes) and so also any one document or line, which is held whole: a plain text or .npy file is one read, and a
// gzip'd line without a newline would otherwise inflate without end. Reading stops as soon as a file goes past it.
struct ReadLimit {
  uint64_t max_bytes = uint64_t{1} << 30;
  std::string name = "the dataset size limit";  // how errors name the limit, e.g. the flag that sets it
};

struct Document {
  bool tokenized = false;  // true: `ids` holds the document (token-id files); false: `text` does
  std::string text;
  std::vector<int32_t> ids;
  std::string where;  // "FILE:LINE" or "FILE row R", for messages about this document
};

class DocumentReader {
 public:
  virtual ~DocumentReader() = default;

  // Fills *doc with the next document; false after the last one. Throws Error naming the file and line (or row):
  // kInvalidArgument for content that is not the format (a line that is not JSON, no "text" field, a .npy dtype
  // that is not int32/int64, an id that does not fit int32, a file past its ReadLimit), kDataLoss for a truncated or
  // corrupt file.
  virtual bool Next(Document* doc) = 0;
};

// Opens `path` (Error(kNotFound) naming it if it cannot be opened); kAuto takes the format from the name.
std::unique_ptr<DocumentReader> OpenDocuments(const std::string& path, DatasetFormat format = DatasetFormat::kAuto,
                                              const ReadLimit& limit = ReadLimit());

}  // namespace layerscope
