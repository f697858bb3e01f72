// The token samples a comparison runs on, from a request's DataSource (see the .proto for the caller's view):
// - embedded (the default): the served model's evaluation text (model_entry.h), its UTF-8 bytes used as token ids,
//   cut into consecutive windows. For a byte-level model these are the text's tokens. For larger vocabularies
//   (mamba-130m's 50280) they are not the text's tokenization but valid, deterministic ids of the requested shape:
//   enough to compare numeric modes layer by layer.
// - tokens: the first `samples` sequences, each truncated to `seq_len`; ids checked against the vocabulary.
// - text: tokenized by the model's tokenizer, cut into consecutive windows.
// - file (under the data root) and upload (written to a private file of the upload folder, removed after): drawn by
//   core/data/dataset.h's DrawSamples with the model's tokenizer (or the upload's own).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "layerscope/v1/layerscope.pb.h"
#include "server/service/model_entry.h"

namespace layerscope::server {

struct Samples {
  std::vector<std::vector<int32_t>> tokens;  // `samples` sequences of `seq_len` ids
  std::string description;                   // for logs: "embedded (eval.txt of model \"embedded\")", "tokens", ...
};

// The layout SAMPLE_LAYOUT_AUTO stands for: packed for plain text (one document), documents for the rest.
SampleLayout AutoLayout(const std::string& path);

// Throws Error naming the field (data.tokens.samples[3].ids[7], data.text, data.file, data.upload, ...) and the
// sizes, line or row at fault: kInvalidArgument for data that is too short, malformed or out of the vocabulary,
// kFailedPrecondition for text sent to a model without a tokenizer, kNotFound for a missing file, kDataLoss for a
// corrupt one. A file or upload is read only up to max_dataset_bytes once decompressed; past it, kInvalidArgument
// naming the limit.
Samples ResolveSamples(const v1::DataSource& data, const ModelEntry& model, int samples, int seq_len,
                       const std::string& data_root, int64_t max_dataset_bytes);

}  // namespace layerscope::server
