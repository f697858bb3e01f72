// Content keys for the job result cache: a SHA-256 over everything that determines a comparison's rows, so that a
// repeated request is answered from the job that computed them. What goes in:
// - the model digest: the served checkpoint's files (names, sizes, modification times) and how it was loaded
//   (device, quantization settings). Hashing the weights themselves would cost a read of every byte at each start;
//   a file replaced in place changes its size or time.
// - every field of the reference and of each mode spec (not only their names: custom modes reuse names), the
//   layers, points, sizes, and a digest of the resolved sample token ids (so "text" and "file" sources that give
//   the same tokens share results, and an edited data file does not).
#pragma once

#include <string>

#include "core/compare/resident_model.h"
#include "server/service/request_validator.h"

namespace layerscope::server {

// `load_settings` describes the options the model was loaded with (calibration sizes, alpha, ...).
std::string ModelDigest(const ModelInfo& info, const std::string& load_settings);

std::string ContentKey(const std::string& model_digest, const ValidatedCompare& compare);

}  // namespace layerscope::server
