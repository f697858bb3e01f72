#include "core/analysis/analysis_runs.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "core/util/error.h"

namespace layerscope {
namespace {

// The samples of batch `b`.
std::vector<std::vector<int32_t>> BatchSamples(const CompareRequest& request, size_t b) {
  const size_t batch = static_cast<size_t>(request.batch_size);
  const size_t end = std::min(request.samples.size(), (b + 1) * batch);
  return {request.samples.begin() + b * batch, request.samples.begin() + end};
}

size_t BatchCount(const CompareRequest& request) {
  if (request.modes.empty()) throw Error(ErrorKind::kInvalidArgument, "modes: at least one mode is required");
  if (request.samples.empty()) throw Error(ErrorKind::kInvalidArgument, "samples: at least one sample is required");
  if (request.batch_size < 1) throw Error(ErrorKind::kInvalidArgument, "batch_size must be at least 1");
  const size_t batch = static_cast<size_t>(request.batch_size);
  return (request.samples.size() + batch - 1) / batch;
}

void CheckCancelled(const CancelCheck& cancelled) {
  if (cancelled && cancelled()) throw Error(ErrorKind::kCancelled, "analysis cancelled by the caller");
}

const float* Floats(const HostTensor& tensor) {
  if (tensor.dtype != DType::kF32 || tensor.shape.size() != 3) {
    throw Error(ErrorKind::kInternal, "capture is " + std::string(DTypeName(tensor.dtype)) + " " +
                                          tensor.ShapeString() + ", expected F32 [batch, seqlen, channels]");
  }
  return reinterpret_cast<const float*>(tensor.bytes.data());
}

}  // namespace

std::vector<BreakdownRow> RunBreakdowns(const ResidentModel& model, const CompareRequest& request,
                                        const BreakdownOptions& options, const CancelCheck& cancelled) {
  const size_t batches = BatchCount(request);
  const int64_t samples = static_cast<int64_t>(request.samples.size());
  const int64_t seq_len = static_cast<int64_t>(request.samples.front().size());
  std::vector<Captures> reference;
  for (size_t b = 0; b < batches; ++b) {
    CheckCancelled(cancelled);
    reference.push_back(model.Run(request.reference, BatchSamples(request, b), request.layers, request.points, false));
  }
  std::vector<BreakdownRow> rows;
  for (const ModeSpec& mode : request.modes) {
    std::map<std::pair<int, CapturePoint>, ErrorBreakdownAccumulator> accumulators;
    for (size_t b = 0; b < batches; ++b) {
      CheckCancelled(cancelled);
      const Captures captures = model.Run(mode, BatchSamples(request, b), request.layers, request.points, false);
      for (const auto& [key, tensor] : captures.tensors) {
        const HostTensor& ref = reference[b].tensors.at(key);
        if (ref.shape != tensor.shape) {
          throw Error(ErrorKind::kInternal, "capture shapes differ: reference " + ref.ShapeString() + ", " + mode.name +
                                                " " + tensor.ShapeString());
        }
        accumulators.try_emplace(key, samples, seq_len, tensor.shape[2])
            .first->second.Add(Floats(ref), Floats(tensor), tensor.shape[0]);
      }
    }
    for (int layer : request.layers) {
      for (CapturePoint point : request.points) {
        rows.push_back({mode.name, layer, point, accumulators.at({layer, point}).Finish(options)});
      }
    }
  }
  return rows;
}

ModelEffects RunModelEffects(const ResidentModel& model, const CompareRequest& request, const CancelCheck& cancelled) {
  const size_t batches = BatchCount(request);
  // Made at the first batch: the logits' last axis (the embedding's rows, padded vocabulary included) sizes them.
  std::optional<PerplexityAccumulator> reference_perplexity;
  std::vector<ModelEffectAccumulator> effects;
  for (size_t b = 0; b < batches; ++b) {
    const std::vector<std::vector<int32_t>> samples = BatchSamples(request, b);
    CheckCancelled(cancelled);
    const Captures reference = model.Run(request.reference, samples, {}, {}, true);
    const float* ref_logits = Floats(reference.logits);
    const int64_t vocab = reference.logits.shape[2];
    if (b == 0) {
      reference_perplexity.emplace(vocab);
      effects = std::vector<ModelEffectAccumulator>(request.modes.size(), ModelEffectAccumulator(vocab));
    }
    reference_perplexity->Add(ref_logits, samples);
    for (size_t m = 0; m < request.modes.size(); ++m) {
      CheckCancelled(cancelled);
      const Captures captures = model.Run(request.modes[m], samples, {}, {}, true);
      if (captures.logits.shape != reference.logits.shape) {
        throw Error(ErrorKind::kInternal, "logit shapes differ: reference " + reference.logits.ShapeString() + ", " +
                                              request.modes[m].name + " " + captures.logits.ShapeString());
      }
      effects[m].Add(ref_logits, Floats(captures.logits), samples);
    }
  }
  ModelEffects result;
  result.reference = reference_perplexity->Finish();
  for (const ModelEffectAccumulator& effect : effects) result.modes.push_back(effect.Finish());
  return result;
}

}  // namespace layerscope
