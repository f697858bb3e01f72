#include "tests/server/validation_cases.h"

#include <filesystem>
#include <fstream>

#include "core/capture/capture_point.h"
#include "core/modes/mode_spec.h"

namespace layerscope::server::testing {
namespace {

using grpc::StatusCode;

std::string PointNames() {
  std::string names;
  for (const auto& info : AllCapturePoints()) names += (names.empty() ? "" : ", ") + std::string(info.name);
  return names;
}

void AddTokens(v1::CompareRequest* request, int sequences, int length, int id) {
  auto* tokens = request->mutable_data()->mutable_tokens();
  for (int s = 0; s < sequences; ++s) {
    auto* sequence = tokens->add_samples();
    for (int t = 0; t < length; ++t) sequence->add_ids(id);
  }
}

// ModeSpecSyntax() as the server quotes it in a message: its lines joined with "; ".
std::string OneLineSyntax() {
  std::string syntax = ModeSpecSyntax();
  while (!syntax.empty() && syntax.back() == '\n') syntax.pop_back();
  size_t at = 0;
  while ((at = syntax.find('\n', at)) != std::string::npos) syntax.replace(at, 1, "; ");
  return syntax;
}

}  // namespace

ServerLimits CaseLimits() {
  ServerLimits limits;
  limits.max_samples = 100;
  limits.max_seq_len = 1024;
  limits.max_tokens = 100000;
  return limits;
}

std::vector<std::string> CaseLimitFlags() {
  return {"--max-samples", "100", "--max-seq-len", "1024", "--max-tokens", "100000"};
}

v1::CompareRequest BaseRequest() {
  v1::CompareRequest request;
  request.add_modes("fp16");
  request.add_layers(0);
  request.add_layers(-1);
  request.set_samples(2);
  request.set_seq_len(64);
  return request;
}

void PopulateDataRoot(const std::string& root, const std::string& outside) {
  namespace fs = std::filesystem;
  std::ofstream(fs::path(root) / "short.txt") << "0123456789";
  fs::create_directories(fs::path(root) / "folder");
  std::ofstream(fs::path(outside) / "secret.txt") << std::string(4096, 's');
  fs::create_symlink(fs::path(outside) / "secret.txt", fs::path(root) / "escape.txt");
}

std::vector<ValidationCase> ValidationCases() {
  const std::string modes = BuiltinModeNames();
  const std::string points = PointNames();
  return {
      {"UnknownModel", [](auto* r) { r->set_model("nope"); }, StatusCode::NOT_FOUND,
       "model: unknown model \"nope\"; models: embedded"},
      {"UnknownReference", [](auto* r) { r->set_reference_mode("fp8"); }, StatusCode::INVALID_ARGUMENT,
       "reference_mode: unknown mode \"fp8\"; known modes: " + modes},
      {"NoModes", [](auto* r) { r->clear_modes(); }, StatusCode::INVALID_ARGUMENT,
       "modes: at least one mode is required; known modes: " + modes},
      {"UnknownMode", [](auto* r) { r->add_modes("2-9"); }, StatusCode::INVALID_ARGUMENT,
       "modes[1]: unknown mode \"2-9\"; known modes: " + modes},
      {"ModeIsReference", [](auto* r) { r->set_modes(0, "fp32"); }, StatusCode::INVALID_ARGUMENT,
       "modes[0]: \"fp32\" is the reference mode; modes are compared against it"},
      {"ModeIsChosenReference",
       [](auto* r) {
         r->set_reference_mode("bf16");
         r->add_modes("bf16");
       },
       StatusCode::INVALID_ARGUMENT, "modes[1]: \"bf16\" is the reference mode; modes are compared against it"},
      {"DuplicateMode",
       [](auto* r) {
         r->add_modes("bf16");
         r->add_modes("fp16");
       },
       StatusCode::INVALID_ARGUMENT, "modes[2]: \"fp16\" repeats modes[0]"},
      {"CustomModeWithoutName", [](auto* r) { r->add_custom_modes()->set_spec("conv_out=fp32"); },
       StatusCode::INVALID_ARGUMENT, "custom_modes[0].name: empty; a composed mode needs a name"},
      {"CustomModeBadName", [](auto* r) { r->add_custom_modes()->set_name("my mode"); }, StatusCode::INVALID_ARGUMENT,
       "custom_modes[0].name: \"my mode\" is not allowed; use up to 64 letters, digits and the characters _ . + -"},
      {"CustomModeBuiltinName", [](auto* r) { r->add_custom_modes()->set_name("fp16"); }, StatusCode::INVALID_ARGUMENT,
       "custom_modes[0].name: \"fp16\" is a built-in mode; built-in modes: " + modes},
      {"CustomModeTwice",
       [](auto* r) {
         for (int i = 0; i < 2; ++i) {
           auto* mode = r->add_custom_modes();
           mode->set_name("mine");
           mode->set_spec("base=fp16");
         }
       },
       StatusCode::INVALID_ARGUMENT, "custom_modes[1].name: \"mine\" repeats custom_modes[0].name"},
      {"CustomModeBadSpec",
       [](auto* r) {
         auto* mode = r->add_custom_modes();
         mode->set_name("mine");
         mode->set_spec("base=fp32,colour=blue");
       },
       StatusCode::INVALID_ARGUMENT,
       "custom_modes[0].spec: mode spec \"mine\": unknown field \"colour\"; fields:; " + OneLineSyntax()},
      {"LayerTooLarge", [](auto* r) { r->set_layers(1, 6); }, StatusCode::INVALID_ARGUMENT,
       "layers[1]: 6 is out of range; model \"embedded\" has 6 layers: 0 to 5, or -6 to -1 counting from the end"},
      {"LayerTooNegative", [](auto* r) { r->set_layers(0, -7); }, StatusCode::INVALID_ARGUMENT,
       "layers[0]: -7 is out of range; model \"embedded\" has 6 layers: 0 to 5, or -6 to -1 counting from the end"},
      {"LayerNamedTwice", [](auto* r) { r->add_layers(5); }, StatusCode::INVALID_ARGUMENT,
       "layers[2]: 5 names layer 5, as layers[1] does"},
      {"UnknownPoint", [](auto* r) { r->add_points("ssm_state"); }, StatusCode::INVALID_ARGUMENT,
       "points[0]: unknown capture point \"ssm_state\"; capture points: " + points},
      {"DuplicatePoint",
       [](auto* r) {
         r->add_points("ssm_input");
         r->add_points("dt");
         r->add_points("ssm_input");
       },
       StatusCode::INVALID_ARGUMENT, "points[2]: \"ssm_input\" repeats points[0]"},
      {"NegativeSamples", [](auto* r) { r->set_samples(-1); }, StatusCode::INVALID_ARGUMENT,
       "samples: -1 is negative; give 1 to 100, or 0 for the default 10"},
      {"SamplesOverLimit", [](auto* r) { r->set_samples(101); }, StatusCode::INVALID_ARGUMENT,
       "samples: 101 is over this server's limit max-samples = 100"},
      {"NegativeSeqLen", [](auto* r) { r->set_seq_len(-64); }, StatusCode::INVALID_ARGUMENT,
       "seq_len: -64 is negative; give 1 to 1024, or 0 for the default 512"},
      {"SeqLenOverLimit", [](auto* r) { r->set_seq_len(1025); }, StatusCode::INVALID_ARGUMENT,
       "seq_len: 1025 is over this server's limit max-seq-len = 1024"},
      {"TokensOverLimit",
       [](auto* r) {
         r->set_samples(100);
         r->set_seq_len(1024);
       },
       StatusCode::INVALID_ARGUMENT,
       "samples x seq_len: 100 x 1024 = 102400 tokens is over this server's limit max-tokens = 100000"},
      {"NegativeBatchSize", [](auto* r) { r->set_batch_size(-2); }, StatusCode::INVALID_ARGUMENT,
       "batch_size: -2 is negative; give 1 to samples (2), or 0 for min(samples, 10)"},
      {"BatchSizeOverSamples", [](auto* r) { r->set_batch_size(3); }, StatusCode::INVALID_ARGUMENT,
       "batch_size: 3 is more than samples = 2"},
      {"EmbeddedTextTooShort",
       [](auto* r) {
         r->set_samples(100);
         r->set_seq_len(1000);
       },
       StatusCode::INVALID_ARGUMENT,
       "data.embedded (eval.txt of model \"embedded\"): the text holds 65536 bytes, fewer than samples x seq_len = "
       "100 x 1000 = 100000"},
      {"TooFewTokenSequences", [](auto* r) { AddTokens(r, 1, 64, 7); }, StatusCode::INVALID_ARGUMENT,
       "data.tokens.samples: 1 sequences, fewer than samples = 2"},
      {"TokenSequenceTooShort",
       [](auto* r) {
         AddTokens(r, 1, 64, 7);
         AddTokens(r, 1, 63, 7);
       },
       StatusCode::INVALID_ARGUMENT, "data.tokens.samples[1]: 63 token ids, fewer than seq_len = 64"},
      {"TokenOutsideVocabulary",
       [](auto* r) {
         AddTokens(r, 2, 64, 7);
         r->mutable_data()->mutable_tokens()->mutable_samples(1)->set_ids(9, 256);
       },
       StatusCode::INVALID_ARGUMENT,
       "data.tokens.samples[1].ids[9]: 256 is outside model \"embedded\"'s vocabulary [0, 256)"},
      {"NegativeToken",
       [](auto* r) {
         AddTokens(r, 2, 64, 7);
         r->mutable_data()->mutable_tokens()->mutable_samples(0)->set_ids(0, -1);
       },
       StatusCode::INVALID_ARGUMENT,
       "data.tokens.samples[0].ids[0]: -1 is outside model \"embedded\"'s vocabulary [0, 256)"},
      {"TextTooShort", [](auto* r) { r->mutable_data()->set_text("too short"); }, StatusCode::INVALID_ARGUMENT,
       "data.text: the text holds 9 tokens, fewer than samples x seq_len = 2 x 64 = 128"},
      {"FileEmpty", [](auto* r) { r->mutable_data()->set_file(""); }, StatusCode::INVALID_ARGUMENT,
       "data.file: empty; give a path relative to the server's data root"},
      {"FileAbsolute", [](auto* r) { r->mutable_data()->set_file("/etc/passwd"); }, StatusCode::INVALID_ARGUMENT,
       "data.file: \"/etc/passwd\" is absolute; give a path relative to the server's data root"},
      {"FileParent", [](auto* r) { r->mutable_data()->set_file("folder/../../x.txt"); }, StatusCode::INVALID_ARGUMENT,
       "data.file: \"folder/../../x.txt\" has a \"..\" component; paths stay inside the server's data root"},
      {"FileMissing", [](auto* r) { r->mutable_data()->set_file("missing.txt"); }, StatusCode::NOT_FOUND,
       "data.file: \"missing.txt\" does not exist under the server's data root"},
      {"FileSymlinkEscape", [](auto* r) { r->mutable_data()->set_file("escape.txt"); }, StatusCode::INVALID_ARGUMENT,
       "data.file: \"escape.txt\" resolves outside the server's data root"},
      {"FileIsFolder", [](auto* r) { r->mutable_data()->set_file("folder"); }, StatusCode::INVALID_ARGUMENT,
       "data.file: \"folder\" is not a regular file"},
      {"FileTooShort", [](auto* r) { r->mutable_data()->set_file("short.txt"); }, StatusCode::INVALID_ARGUMENT,
       "data.file: short.txt: 2 samples of 64 tokens need 128 tokens; its 1 documents give 10: use a shorter "
       "seq_len or fewer samples"},
  };
}

}  // namespace layerscope::server::testing
