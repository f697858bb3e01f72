#include "server/service/model_entry.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "core/data/byte_samples.h"
#include "core/data/dataset.h"
#include "core/util/error.h"
#include "server/service/data_source.h"

namespace layerscope::server {
namespace {

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

class VocabularyOnly : public Tokenizer {
 public:
  explicit VocabularyOnly(int64_t vocab_size) : vocab_size_(vocab_size) {}

  std::vector<int32_t> Encode(std::string_view) const override { throw NoText(); }
  std::string Decode(const std::vector<int32_t>&) const override { throw NoText(); }
  int64_t VocabSize() const override { return vocab_size_; }
  std::optional<int32_t> EndOfTextId() const override { return std::nullopt; }
  std::string Describe() const override { return "the model's vocabulary (" + std::to_string(vocab_size_) + " ids)"; }

 private:
  Error NoText() const { return Error(ErrorKind::kFailedPrecondition, "text needs a tokenizer; this model has none"); }

  int64_t vocab_size_;
};

// Calibration sequences drawn from --calibration-data with the model's tokenizer. A token-id file needs no
// tokenizer, only the model's vocabulary to check its ids against.
std::vector<std::vector<int32_t>> CalibrationSamples(const QuantizationConfig& quantization,
                                                     const MambaConfig& model_config, const ModelTokenizer& tokenizer,
                                                     std::string* description) {
  const std::string& path = quantization.calibration_data;
  std::shared_ptr<const Tokenizer> vocabulary = tokenizer.tokenizer;
  if (vocabulary == nullptr) {
    if (FormatOfPath(path) != DatasetFormat::kTokenIds) {
      throw Error(ErrorKind::kFailedPrecondition,
                  "--calibration-data " + path + ": text needs the model's tokenizer, and " + tokenizer.description);
    }
    vocabulary = MakeVocabularyOnly(model_config.vocab_size);
  }
  SampleOptions options;
  options.count = quantization.calibration_samples;
  options.seq_len = quantization.calibration_seq_len;
  options.layout = quantization.calibration_layout == "auto"     ? AutoLayout(path)
                   : quantization.calibration_layout == "packed" ? SampleLayout::kPacked
                                                                 : SampleLayout::kDocuments;
  layerscope::Samples samples = DrawSamples(path, *vocabulary, options);
  *description = std::move(samples.description);
  return std::move(samples.ids);
}

}  // namespace

bool IsByteLevelVocabulary(int64_t vocab_size) { return vocab_size >= 256 && vocab_size <= 264; }

std::shared_ptr<const Tokenizer> MakeVocabularyOnly(int64_t vocab_size) {
  return std::make_shared<VocabularyOnly>(vocab_size);
}

ModelTokenizer FindTokenizer(const MambaConfig& config, const std::string& model_dir,
                             const std::string& tokenizer_file) {
  ModelTokenizer out;
  if (IsByteLevelVocabulary(config.vocab_size)) {
    out.tokenizer = MakeByteTokenizer(config.vocab_size);
    out.description = out.tokenizer->Describe();
    return out;
  }
  std::string path = tokenizer_file;
  std::string source = "--tokenizer " + tokenizer_file;
  const std::filesystem::path own = std::filesystem::path(model_dir) / "tokenizer.json";
  std::error_code ec;
  if (path.empty() && std::filesystem::is_regular_file(own, ec)) {
    path = own.string();
    source = "tokenizer.json of model " + Quoted(std::filesystem::path(model_dir).filename().string());
  }
  if (path.empty()) {
    out.description = "the server has no tokenizer for this " + std::to_string(config.vocab_size) +
                      "-token vocabulary (not byte-level): start it with --tokenizer FILE or put tokenizer.json "
                      "in the model's folder";
    return out;
  }
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizerFile(path);
  if (tokenizer->VocabSize() > config.vocab_size) {
    throw Error(ErrorKind::kInvalidArgument, source + ": its " + std::to_string(tokenizer->VocabSize()) +
                                                 " ids do not fit the model's vocabulary of " +
                                                 std::to_string(config.vocab_size));
  }
  out.description = source + ": " + tokenizer->Describe();
  out.tokenizer = std::move(tokenizer);
  return out;
}

ModelEntry MakeModelEntry(const ModelInfo& info, bool is_default, ModelTokenizer tokenizer) {
  ModelEntry entry;
  entry.info = info;
  entry.is_default = is_default;
  entry.tokenizer = std::move(tokenizer);
  const std::filesystem::path own = std::filesystem::path(info.dir) / "eval.txt";
  std::error_code ec;
  if (std::filesystem::is_regular_file(own, ec)) {
    entry.eval_text = ReadTextFile(own.string());
    entry.eval_text_source = "eval.txt of model \"" + info.name + "\"";
  } else {
    entry.eval_text = ReadTextFile((std::filesystem::path(ResidentModel::EmbeddedModelDir()) / "eval.txt").string());
    entry.eval_text_source = "the embedded model's eval.txt (model \"" + info.name + "\" has none)";
  }
  return entry;
}

ModelEntry MakeModelEntry(const ModelInfo& info, bool is_default) {
  return MakeModelEntry(info, is_default, FindTokenizer(info.config, info.dir, ""));
}

ServedModel LoadServedModel(const ServerConfig& config, const std::string& model_dir, bool is_default) {
  const QuantizationConfig& quantization = config.quantization;
  LoadOptions options;
  options.quantize = quantization.enabled;
  options.calibration.samples = quantization.calibration_samples;
  options.calibration.seq_len = quantization.calibration_seq_len;
  options.calibration.percentile_alpha = quantization.percentile_alpha;
  options.calibration.fp16_weight_arithmetic = quantization.weight_arithmetic == "fp16";
  options.calibration_text = quantization.calibration_text;
  options.compare_memory = config.compare_memory;
  // Calibration data is tokenized before the load, which calibrates: its tokenizer needs the model's vocabulary
  // from config.json first. Otherwise the load reads config.json alone (once: it may be a pipe).
  std::optional<ModelTokenizer> tokenizer;
  if (quantization.enabled && !quantization.calibration_data.empty()) {
    const MambaConfig model_config = ReadMambaConfig(model_dir + "/config.json");
    // A Quamba checkpoint is quantized already: nothing to calibrate.
    if (model_config.layout != CheckpointLayout::kQuamba) {
      tokenizer = FindTokenizer(model_config, model_dir, config.tokenizer);
      options.calibration_samples =
          CalibrationSamples(quantization, model_config, *tokenizer, &options.calibration_source);
    }
  }

  ServedModel served;
  served.model = ResidentModel::Load(model_dir, config.device, options);
  const ModelInfo& info = served.model->info();
  if (!tokenizer) tokenizer = FindTokenizer(info.config, model_dir, config.tokenizer);
  spdlog::info("tokenizer of model \"{}\": {}", info.name, tokenizer->description);
  served.entry = MakeModelEntry(info, is_default, std::move(*tokenizer));
  if (quantization.enabled && !info.quantized_available) {
    // Said where users see it too: in ListModels and in the refusal of a quantized mode.
    served.entry.info.quantization += "; start the server with --calibration-data FILE to calibrate one";
    spdlog::warn(
        "model \"{}\" has no W8A8 model, so the quantized modes cannot run: start the server with "
        "--calibration-data FILE (text needs a tokenizer: --tokenizer FILE unless the model's folder holds "
        "tokenizer.json) to calibrate one",
        info.name);
  }

  const std::filesystem::path uploads = std::filesystem::path(config.data_dir) / "uploads";
  std::error_code ec;
  std::filesystem::remove_all(uploads, ec);
  std::filesystem::create_directories(uploads, ec);
  if (ec) throw Error(ErrorKind::kInternal, "cannot create " + uploads.string() + ": " + ec.message());
  std::filesystem::permissions(uploads, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace, ec);
  served.entry.upload_dir = uploads.string();
  return served;
}

}  // namespace layerscope::server
