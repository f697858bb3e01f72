// ModelEntry: what a request can be checked against for one served model: its shape, the text behind
// DataSource.embedded and the tokenizer behind text data. Plain data, so the request validator needs no loaded model.
#pragma once

#include <memory>
#include <string>

#include "core/compare/resident_model.h"
#include "core/data/tokenizer.h"
#include "core/model/model_config.h"
#include "server/config/server_config.h"

namespace layerscope::server {

// Whether token ids are UTF-8 bytes: 256 ids plus at most 8 for special tokens or padding.
bool IsByteLevelVocabulary(int64_t vocab_size);

// The tokenizer that turns a model's text data into ids, or why it has none.
struct ModelTokenizer {
  std::shared_ptr<const Tokenizer> tokenizer;  // null: the model takes no text
  std::string description;  // "byte-level (256 ids)", "tokenizer.json of model ...: ...", or why there is none
};

// A byte-level vocabulary's byte tokenizer; otherwise the HF tokenizer.json in `tokenizer_file` when given, else the
// one in `model_dir` when it holds one, else none. Throws Error naming the file: kNotFound or kInvalidArgument when
// it cannot be read or parsed, kInvalidArgument when its ids do not fit the model's vocabulary.
ModelTokenizer FindTokenizer(const MambaConfig& config, const std::string& model_dir,
                             const std::string& tokenizer_file);

// For models without a tokenizer: knows only the vocabulary's size, which is all that drawing samples from a
// token-id file (.npy) needs. Encode and Decode throw Error(kFailedPrecondition).
std::shared_ptr<const Tokenizer> MakeVocabularyOnly(int64_t vocab_size);

struct ModelEntry {
  ModelInfo info;
  bool is_default = false;
  std::string eval_text;         // bytes that DataSource.embedded cuts into samples
  std::string eval_text_source;  // for messages: "eval.txt of model \"embedded\""
  ModelTokenizer tokenizer;
  // Where uploaded datasets are written while they are read (a folder of the server's --data-dir); empty: this
  // server takes no uploads.
  std::string upload_dir;
};

// The entry of a loaded model, with `tokenizer`. Its evaluation text is eval.txt in the model's folder, else the
// embedded model's eval.txt (checkpoints such as mamba-130m ship none). Throws Error(kNotFound) when neither can be
// read.
ModelEntry MakeModelEntry(const ModelInfo& info, bool is_default, ModelTokenizer tokenizer);
// The same with FindTokenizer's choice for the model's folder alone.
ModelEntry MakeModelEntry(const ModelInfo& info, bool is_default);

// A model loaded as `config` says, with its entry.
struct ServedModel {
  std::unique_ptr<ResidentModel> model;
  ModelEntry entry;
};

// Loads the checkpoint in `model_dir` with its tokenizer (FindTokenizer with --tokenizer); its W8A8 model is
// calibrated on --calibration-data drawn with that tokenizer when given, else as ResidentModel::Load does by
// default. Uploads go to <data-dir>/uploads, emptied here of any a crash left behind. Throws Error naming what
// failed.
ServedModel LoadServedModel(const ServerConfig& config, const std::string& model_dir, bool is_default);

}  // namespace layerscope::server
