#include "server/service/data_source.h"

#include <stdlib.h>
#include <unistd.h>

#include <memory>

#include "core/data/byte_samples.h"
#include "core/util/error.h"
#include "server/service/contained_path.h"

namespace layerscope::server {
namespace {

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

std::vector<std::vector<int32_t>> EmbeddedSamples(const std::string& field, const std::string& text, int samples,
                                                  int seq_len) {
  try {
    return ByteSamples(text, samples, seq_len);
  } catch (const Error& error) {
    throw Error(error.kind(), field + ": " + error.what());
  }
}

std::vector<std::vector<int32_t>> TokenSamples(const v1::TokenSamples& tokens, const ModelEntry& model, int samples,
                                               int seq_len) {
  if (tokens.samples_size() < samples) {
    throw Error(ErrorKind::kInvalidArgument, "data.tokens.samples: " + std::to_string(tokens.samples_size()) +
                                                 " sequences, fewer than samples = " + std::to_string(samples));
  }
  const int64_t vocab = model.info.config.vocab_size;
  std::vector<std::vector<int32_t>> out(samples);
  for (int s = 0; s < samples; ++s) {
    const auto& ids = tokens.samples(s).ids();
    const std::string field = "data.tokens.samples[" + std::to_string(s) + "]";
    if (ids.size() < seq_len) {
      throw Error(ErrorKind::kInvalidArgument, field + ": " + std::to_string(ids.size()) +
                                                   " token ids, fewer than seq_len = " + std::to_string(seq_len));
    }
    for (int t = 0; t < seq_len; ++t) {
      if (ids[t] < 0 || ids[t] >= vocab) {
        throw Error(ErrorKind::kInvalidArgument, field + ".ids[" + std::to_string(t) + "]: " + std::to_string(ids[t]) +
                                                     " is outside model " + Quoted(model.info.name) +
                                                     "'s vocabulary [0, " + std::to_string(vocab) + ")");
      }
    }
    out[s].assign(ids.begin(), ids.begin() + seq_len);
  }
  return out;
}

// The tokenizer for `field`'s data of `format`: the model's. Without one, a token-id file is still drawn (its ids
// only need checking against the model's vocabulary); text is refused.
std::shared_ptr<const Tokenizer> RequireTokenizer(const std::string& field, const ModelEntry& model,
                                                  DatasetFormat format) {
  if (model.tokenizer.tokenizer != nullptr) return model.tokenizer.tokenizer;
  if (format == DatasetFormat::kTokenIds) return MakeVocabularyOnly(model.info.config.vocab_size);
  throw Error(ErrorKind::kFailedPrecondition,
              field + ": model " + Quoted(model.info.name) + " cannot tokenize text: " + model.tokenizer.description +
                  (field == "data.upload" ? "; or send the tokenizer with the upload" : "") +
                  "; or send token ids (data.tokens, or a .npy file)");
}

// `text`'s tokens cut into consecutive windows.
std::vector<std::vector<int32_t>> TextSamples(const std::string& text, const Tokenizer& tokenizer, int samples,
                                              int seq_len) {
  std::vector<int32_t> ids;
  try {
    ids = tokenizer.Encode(text);
  } catch (const Error& error) {
    throw Error(error.kind(), "data.text: " + std::string(error.what()));
  }
  const size_t need = static_cast<size_t>(samples) * static_cast<size_t>(seq_len);
  if (ids.size() < need) {
    throw Error(ErrorKind::kInvalidArgument, "data.text: the text holds " + std::to_string(ids.size()) +
                                                 " tokens, fewer than samples x seq_len = " + std::to_string(samples) +
                                                 " x " + std::to_string(seq_len) + " = " + std::to_string(need));
  }
  std::vector<std::vector<int32_t>> out(samples);
  for (int s = 0; s < samples; ++s) {
    const auto begin = ids.begin() + static_cast<ptrdiff_t>(s) * seq_len;
    out[s].assign(begin, begin + seq_len);
  }
  return out;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// DrawSamples, with the server-side `path` replaced by `name` in its description and errors (the caller must not
// learn where the server keeps files); errors name `field`.
layerscope::Samples Draw(const std::string& field, const std::string& path, const std::string& name,
                         const Tokenizer& tokenizer, const SampleOptions& options) {
  try {
    layerscope::Samples samples = DrawSamples(path, tokenizer, options);
    samples.description = ReplaceAll(std::move(samples.description), path, name);
    return samples;
  } catch (const Error& error) {
    throw Error(error.kind(), field + ": " + ReplaceAll(error.what(), path, name));
  }
}

// A file of the upload folder holding an upload's content, removed when this goes.
class UploadFile {
 public:
  UploadFile(const std::string& dir, const std::string& content) {
    if (dir.empty()) {
      throw Error(ErrorKind::kFailedPrecondition, "data.upload: this server takes no uploads; send data.tokens");
    }
    path_ = dir + "/upload-XXXXXX";
    const int fd = mkstemp(path_.data());
    if (fd < 0) throw Error(ErrorKind::kInternal, "data.upload: cannot create a file in the upload folder");
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = write(fd, content.data() + written, content.size() - written);
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    close(fd);
    if (written < content.size()) {
      unlink(path_.c_str());
      throw Error(ErrorKind::kResourceExhausted,
                  "data.upload: the server cannot store " + std::to_string(content.size()) + " bytes now (disk full?)");
    }
  }
  ~UploadFile() { unlink(path_.c_str()); }
  UploadFile(const UploadFile&) = delete;
  UploadFile& operator=(const UploadFile&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The limit on a dataset file's decompressed size, named as the operator sets it.
ReadLimit DatasetLimit(int64_t max_dataset_bytes) {
  ReadLimit limit;
  limit.max_bytes = static_cast<uint64_t>(max_dataset_bytes);
  limit.name = "this server's limit max-dataset-bytes (layerscoped --max-dataset-bytes)";
  return limit;
}

Samples UploadSamples(const v1::Upload& upload, const ModelEntry& model, int samples, int seq_len,
                      int64_t max_dataset_bytes) {
  const std::string& name = upload.name();
  if (name.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "data.upload.name: empty; give the file's name, whose ending gives the format (.jsonl, .json, .npy, "
                "any other: plain text; + .gz)");
  }
  SampleOptions options;
  options.count = samples;
  options.seq_len = seq_len;
  options.format = FormatOfPath(name);
  options.limit = DatasetLimit(max_dataset_bytes);
  switch (upload.layout()) {
    case v1::SAMPLE_LAYOUT_AUTO: options.layout = AutoLayout(name); break;
    case v1::SAMPLE_LAYOUT_DOCUMENTS: options.layout = SampleLayout::kDocuments; break;
    case v1::SAMPLE_LAYOUT_PACKED: options.layout = SampleLayout::kPacked; break;
    default:
      throw Error(ErrorKind::kInvalidArgument, "data.upload.layout: unknown value " + std::to_string(upload.layout()) +
                                                   "; known: SAMPLE_LAYOUT_AUTO, _DOCUMENTS, _PACKED");
  }
  if (upload.has_seed()) options.seed = upload.seed();

  std::shared_ptr<const Tokenizer> tokenizer;
  std::string tokenizer_description;
  if (!upload.tokenizer_json().empty()) {
    tokenizer = ParseTokenizerJson(upload.tokenizer_json(), "data.upload.tokenizer_json");
    if (tokenizer->VocabSize() > model.info.config.vocab_size) {
      throw Error(ErrorKind::kInvalidArgument, "data.upload.tokenizer_json: its " +
                                                   std::to_string(tokenizer->VocabSize()) + " ids do not fit model " +
                                                   Quoted(model.info.name) + "'s vocabulary of " +
                                                   std::to_string(model.info.config.vocab_size));
    }
    tokenizer_description = "the tokenizer sent: " + tokenizer->Describe();
  } else {
    tokenizer = RequireTokenizer("data.upload", model, options.format);
    tokenizer_description = tokenizer->Describe();
  }

  const UploadFile file(model.upload_dir, upload.content());
  layerscope::Samples drawn = Draw("data.upload", file.path(), name, *tokenizer, options);
  Samples out;
  out.tokens = std::move(drawn.ids);
  out.description = "upload " + Quoted(name) + " (" + std::to_string(upload.content().size()) + " bytes, " +
                    tokenizer_description + "): " + drawn.description;
  return out;
}

}  // namespace

SampleLayout AutoLayout(const std::string& path) {
  return FormatOfPath(path) == DatasetFormat::kText ? SampleLayout::kPacked : SampleLayout::kDocuments;
}

Samples ResolveSamples(const v1::DataSource& data, const ModelEntry& model, int samples, int seq_len,
                       const std::string& data_root, int64_t max_dataset_bytes) {
  Samples out;
  switch (data.source_case()) {
    case v1::DataSource::SOURCE_NOT_SET:
    case v1::DataSource::kEmbedded:
      if (model.info.config.vocab_size < 256) {
        throw Error(ErrorKind::kFailedPrecondition,
                    "data.embedded: model " + Quoted(model.info.name) + " has a " +
                        std::to_string(model.info.config.vocab_size) +
                        "-token vocabulary; the embedded text's byte ids need at least 256: send data.tokens");
      }
      out.tokens = EmbeddedSamples("data.embedded (" + model.eval_text_source + ")", model.eval_text, samples, seq_len);
      out.description = "embedded (" + model.eval_text_source + ")";
      return out;
    case v1::DataSource::kTokens:
      out.tokens = TokenSamples(data.tokens(), model, samples, seq_len);
      out.description = "tokens (" + std::to_string(data.tokens().samples_size()) + " sequences sent)";
      return out;
    case v1::DataSource::kText: {
      const auto tokenizer = RequireTokenizer("data.text", model, DatasetFormat::kText);
      out.tokens = TextSamples(data.text(), *tokenizer, samples, seq_len);
      out.description = "text (" + std::to_string(data.text().size()) + " bytes sent)";
      return out;
    }
    case v1::DataSource::kFile: {
      const std::string path = ResolveUnderRoot(data_root, data.file(), "data.file");
      SampleOptions options;
      options.count = samples;
      options.seq_len = seq_len;
      options.layout = AutoLayout(path);
      options.limit = DatasetLimit(max_dataset_bytes);
      const auto tokenizer = RequireTokenizer("data.file", model, FormatOfPath(path));
      layerscope::Samples drawn = Draw("data.file", path, data.file(), *tokenizer, options);
      out.tokens = std::move(drawn.ids);
      out.description = "file " + Quoted(data.file()) + ": " + drawn.description;
      return out;
    }
    case v1::DataSource::kUpload: return UploadSamples(data.upload(), model, samples, seq_len, max_dataset_bytes);
  }
  throw Error(ErrorKind::kInternal, "data: unhandled source " + std::to_string(data.source_case()));
}

}  // namespace layerscope::server
