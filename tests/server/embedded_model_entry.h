// EmbeddedModelEntry: the embedded model as a CPU server describes it, without loading its weights. Header only, so
// that the request fuzzer (tests/fuzz, a build of its own) uses it too.
#pragma once

#include "core/compare/resident_model.h"
#include "core/model/model_config.h"
#include "server/service/model_entry.h"

namespace layerscope::server::testing {

inline ModelEntry EmbeddedModelEntry() {
  ModelInfo info;
  info.name = "embedded";
  info.dir = ResidentModel::EmbeddedModelDir();
  info.device = "cpu";
  info.config = ReadMambaConfig(info.dir + "/config.json");
  info.float_available = true;
  info.quantized_available = true;
  return MakeModelEntry(info, /*is_default=*/true);
}

}  // namespace layerscope::server::testing
