#include "core/data/document_reader.h"

#include <zlib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/data/npy_tokens.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A file read through zlib, which passes plain files through unchanged, so one reader serves both. It reads at most
// one byte past its limit, and that one only when asked for more once at the limit: the byte tells a file over the
// limit from one exactly at it, and read-ahead (JSON lines) is not taken for need.
class InputFile {
 public:
  InputFile(const std::string& path, const ReadLimit& limit)
      : path_(path), limit_(limit), file_(gzopen(path.c_str(), "rb")) {
    if (file_ == nullptr) throw Error(ErrorKind::kNotFound, "cannot open dataset file " + path);
    gzbuffer(file_, 1 << 17);
  }
  ~InputFile() { gzclose(file_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Appends up to `max` bytes to *out; false at the end of the file. Throws Error(kInvalidArgument) once the file
  // has given more than the limit's bytes, having read (and grown *out by) one byte more.
  bool Read(size_t max, std::string* out) {
    const size_t old = out->size();
    const uint64_t left = limit_.max_bytes - read_;  // read_ <= max_bytes here: past it, the last call threw
    const size_t want = left == 0 ? 1 : static_cast<size_t>(std::min<uint64_t>(left, max));
    out->resize(old + want);
    const int got = gzread(file_, out->data() + old, static_cast<unsigned>(want));
    // zlib reports a gzip stream cut short not through the count but as Z_BUF_ERROR in gzerror ("unexpected end of
    // file"), so that a growing file can be read on; a dataset does not grow, so it is an error like the others.
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    if (got < 0 || code != Z_OK) {
      throw Error(ErrorKind::kDataLoss, path_ + ": truncated or corrupt (zlib: " + message + ")");
    }
    out->resize(old + static_cast<size_t>(got));
    read_ += static_cast<uint64_t>(got);
    if (read_ > limit_.max_bytes) {
      throw Error(ErrorKind::kInvalidArgument, path_ + ": more than " + std::to_string(limit_.max_bytes) +
                                                   " bytes once decompressed, over " + limit_.name);
    }
    return got > 0;
  }

  std::string ReadAll() {
    std::string bytes;
    while (Read(1 << 20, &bytes)) {
    }
    return bytes;
  }

 private:
  std::string path_;
  ReadLimit limit_;
  gzFile file_;
  uint64_t read_ = 0;  // decompressed bytes read so far
};

class TextReader : public DocumentReader {
 public:
  TextReader(const std::string& path, const ReadLimit& limit) : path_(path), file_(path, limit) {}

  bool Next(Document* doc) override {
    if (done_) return false;
    done_ = true;
    doc->tokenized = false;
    doc->text = file_.ReadAll();
    doc->ids.clear();
    doc->where = path_;
    return true;
  }

 private:
  std::string path_;
  InputFile file_;
  bool done_ = false;
};

class JsonLinesReader : public DocumentReader {
 public:
  JsonLinesReader(const std::string& path, const ReadLimit& limit) : path_(path), file_(path, limit) {}

  bool Next(Document* doc) override {
    std::string line;
    while (NextLine(&line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path_ + ":" + std::to_string(line_number_);
      nlohmann::json object;
      try {
        object = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number out of range (1e999)
        throw Error(ErrorKind::kInvalidArgument, where + ": not a JSON object (" + e.what() + ")");
      }
      if (!object.is_object()) throw Error(ErrorKind::kInvalidArgument, where + ": not a JSON object");
      const auto text = object.find("text");
      if (text == object.end()) {
        throw Error(ErrorKind::kInvalidArgument,
                    where + ": no \"text\" field (each line of a JSON lines dataset is {\"text\": \"...\", ...})");
      }
      if (!text->is_string()) {
        throw Error(ErrorKind::kInvalidArgument,
                    where + ": field \"text\" is a " + std::string(text->type_name()) + ", not a string");
      }
      doc->tokenized = false;
      doc->text = text->get<std::string>();
      doc->ids.clear();
      doc->where = where;
      return true;
    }
    return false;
  }

 private:
  // The next line without its '\n' into *line; false at the end of the file.
  bool NextLine(std::string* line) {
    size_t newline;
    while ((newline = buffer_.find('\n', start_)) == std::string::npos) {
      buffer_.erase(0, start_);
      start_ = 0;
      if (!file_.Read(1 << 16, &buffer_)) break;
    }
    if (start_ >= buffer_.size()) return false;
    const size_t end = newline == std::string::npos ? buffer_.size() : newline;
    line->assign(buffer_, start_, end - start_);
    start_ = end + 1;
    ++line_number_;
    return true;
  }

  std::string path_;
  InputFile file_;
  std::string buffer_;  // read but not yet returned from start_ on
  size_t start_ = 0;
  int64_t line_number_ = 0;
};

class TokenIdsReader : public DocumentReader {
 public:
  TokenIdsReader(const std::string& path, const ReadLimit& limit)
      : path_(path), rows_(ParseNpyTokens(InputFile(path, limit).ReadAll(), path)) {}

  bool Next(Document* doc) override {
    if (next_ >= rows_.size()) return false;
    doc->tokenized = true;
    doc->text.clear();
    doc->ids = std::move(rows_[next_]);
    doc->where = path_ + " row " + std::to_string(next_);
    ++next_;
    return true;
  }

 private:
  std::string path_;
  std::vector<std::vector<int32_t>> rows_;
  size_t next_ = 0;
};

}  // namespace

std::string DatasetFormatName(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kText: return "plain text";
    case DatasetFormat::kJsonLines: return "JSON lines";
    case DatasetFormat::kTokenIds: return "token ids (.npy)";
    case DatasetFormat::kAuto: break;
  }
  return "auto";
}

DatasetFormat FormatOfPath(const std::string& path) {
  const std::string name = EndsWith(path, ".gz") ? path.substr(0, path.size() - 3) : path;
  if (EndsWith(name, ".jsonl") || EndsWith(name, ".json")) return DatasetFormat::kJsonLines;
  if (EndsWith(name, ".npy")) return DatasetFormat::kTokenIds;
  return DatasetFormat::kText;
}

std::unique_ptr<DocumentReader> OpenDocuments(const std::string& path, DatasetFormat format, const ReadLimit& limit) {
  switch (format == DatasetFormat::kAuto ? FormatOfPath(path) : format) {
    case DatasetFormat::kJsonLines: return std::make_unique<JsonLinesReader>(path, limit);
    case DatasetFormat::kTokenIds: return std::make_unique<TokenIdsReader>(path, limit);
    case DatasetFormat::kText:
    case DatasetFormat::kAuto: break;
  }
  return std::make_unique<TextReader>(path, limit);
}

}  // namespace layerscope
