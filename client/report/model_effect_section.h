// ModelEffectSection: what the layer errors cost at the model's output, per mode: KL divergence of the next-token
// distribution from the reference's, top-1 agreement, perplexity and its change from the reference's, next to the
// mode's last-layer MSE at mixer_output (else at the comparison's last point), so that a reader sees both in one
// row.
#pragma once

#include <string>

#include "client/compare_result.h"
#include "layerscope/v1/analysis.pb.h"

namespace layerscope::client::report {

std::string ModelEffectSection(const v1::ModelEffectResponse& effect, const CompareResult& comparison);

}  // namespace layerscope::client::report
