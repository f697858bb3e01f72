// RequestValidator: checks every field of a CompareRequest (or a SaveRequest) at the service boundary and translates it
// into the core's plain CompareRequest, applying the documented defaults. A bad field throws Error whose message names
// the field, the value and what is allowed, e.g.
//   modes[1]: unknown mode "2-9"; known modes: fp32, fp16, bf16
// Codes: INVALID_ARGUMENT for a bad value, including a size over one of this server's limits (the message names the
// limit as its flag: the request has to change, retrying will not help), NOT_FOUND for an unknown model or data
// file, FAILED_PRECONDITION for what the model cannot do: a mode whose weights (float or W8A8) it does not hold, text
// without a byte-level vocabulary.
#pragma once

#include <string>
#include <vector>

#include "core/compare/comparison.h"
#include "layerscope/v1/captures.pb.h"
#include "layerscope/v1/layerscope.pb.h"
#include "server/config/server_config.h"
#include "server/service/model_entry.h"

namespace layerscope::server {

// Defaults for zero-valued sizes (see CompareRequest in the .proto).
inline constexpr int kDefaultSamples = 10;
inline constexpr int kDefaultSeqLen = 512;
inline constexpr int kDefaultMaxBatch = 10;

struct ValidatedCompare {
  const ModelEntry* model = nullptr;
  // Layers ascending (negative ones resolved), points in request order, modes in request order: the order rows
  // come in is modes, then layers, then points.
  CompareRequest request;
  int samples = 0;
  int seq_len = 0;
  std::string data;  // where the samples came from, for logs
};

class RequestValidator {
 public:
  // `models` must outlive the validator and every ValidatedCompare it returns.
  RequestValidator(const std::vector<ModelEntry>& models, const ServerLimits& limits, std::string data_root);

  ValidatedCompare Validate(const v1::CompareRequest& request) const;
  // A save: request.modes are the modes to save (groups expanded, each once, in request order); request.reference
  // is unset. Every other field is checked as Validate checks its namesake.
  ValidatedCompare ValidateSave(const v1::SaveRequest& request) const;

 private:
  const ModelEntry& ResolveModel(const std::string& name) const;
  // The fields a comparison and a save share: layers, points, sizes, batch size and data; out->model is set.
  void ValidateSelection(const v1::CompareRequest& request, ValidatedCompare* out) const;

  const std::vector<ModelEntry>& models_;
  ServerLimits limits_;
  std::string data_root_;
};

}  // namespace layerscope::server
