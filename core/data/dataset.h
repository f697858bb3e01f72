// DrawSamples: the token sequences a calibration or a comparison runs on, drawn from a dataset file (see
// document_reader.h for the formats) deterministically: the same file, tokenizer and options give the same samples
// on every machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/data/document_reader.h"
#include "core/data/tokenizer.h"

namespace layerscope {

enum class SampleLayout {
  // The seed's way, the default: each sample is one document truncated to seq_len; documents with fewer tokens are
  // skipped (padding them would put pad tokens into the statistics, and the seed skipped them too).
  kDocuments,
  // Documents joined into one stream, each followed by the separator, cut into consecutive seq_len windows: uses
  // short documents and single-document files (plain text, a 1-D .npy).
  kPacked,
};

struct SampleOptions {
  int count = 10;
  int seq_len = 512;
  SampleLayout layout = SampleLayout::kDocuments;
  // Unset: documents in file order (the seed's "first N documents"). Set: documents in an order shuffled by this
  // seed (a Fisher-Yates shuffle driven by std::mt19937_64, whose output the C++ standard fixes).
  std::optional<uint64_t> seed;
  // kPacked: the id put after each document; unset: the tokenizer's end-of-text id, or none if it has none.
  std::optional<int32_t> separator;
  DatasetFormat format = DatasetFormat::kAuto;
  ReadLimit limit;  // on each pass over the file
};

struct Samples {
  std::vector<std::vector<int32_t>> ids;  // count rows of seq_len ids
  int64_t documents_used = 0;             // documents read and tokenized
  int64_t documents_skipped = 0;          // kDocuments: those shorter than seq_len
  std::string description;                // how they were drawn, for logs and reports
};

// Draws options.count samples from `path`, tokenizing text with `tokenizer` (token-id files are checked against its
// vocabulary). Throws Error naming the file (and line or row where one is at fault): kInvalidArgument for bad
// options, bad content, a file past options.limit, or too few tokens for the samples asked (saying how many there
// were); kNotFound and kDataLoss as DocumentReader does.
Samples DrawSamples(const std::string& path, const Tokenizer& tokenizer, const SampleOptions& options);

}  // namespace layerscope
