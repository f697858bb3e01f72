#include "core/analysis/localization.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/model/mamba_model.h"
#include "core/quant/quantized_mamba.h"
#include "core/util/error.h"

namespace layerscope {
namespace {

// Σ(a − b)² (b undefined: Σa²) in fp64.
double SumOfSquares(const at::Tensor& a, const at::Tensor& b = at::Tensor()) {
  const at::Tensor d = b.defined() ? a.to(at::kDouble) - b.to(at::kDouble) : a.to(at::kDouble);
  return d.square().sum().item<double>();
}

// The sums behind one StageError.
struct StageSums {
  double isolated = 0, full = 0, reference = 0;
  int64_t count = 0;
};

// (Σd² / n) / (Σr² / n + 1e-8), as Metrics.relative_mse.
double RelativeMse(double sum_d2, const StageSums& sums) {
  const double n = static_cast<double>(sums.count);
  return sums.count == 0 ? 0 : (sum_d2 / n) / (sums.reference / n + 1e-8);
}

}  // namespace

void MarkBornAndGrows(LayerLocalization& layer) {
  const std::vector<StageError>& s = layer.stages;
  layer.born = 0;
  layer.grows = s.size() > 1 ? 1 : 0;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i].isolated > s[layer.born].isolated) layer.born = static_cast<int>(i);
    if (i > 1 && s[i].full - s[i - 1].full > s[layer.grows].full - s[layer.grows - 1].full) {
      layer.grows = static_cast<int>(i);
    }
  }
}

std::vector<ModeLocalization> Localize(const ResidentModel& model, const CompareRequest& request,
                                       const CancelCheck& cancelled) {
  if (request.modes.empty()) throw Error(ErrorKind::kInvalidArgument, "modes: at least one mode is required");
  if (request.samples.empty()) throw Error(ErrorKind::kInvalidArgument, "samples: at least one sample is required");
  if (request.batch_size < 1) throw Error(ErrorKind::kInvalidArgument, "batch_size must be at least 1");
  for (size_t m = 0; m < request.modes.size(); ++m) {
    if (request.modes[m].weights != WeightSet::kQuantized) {
      throw Error(ErrorKind::kInvalidArgument,
                  "modes[" + std::to_string(m) + "]: \"" + request.modes[m].name +
                      "\" is a float mode; localization isolates the stages of a quantized (W8A8) mode");
    }
  }
  const QuantizedMamba* quantized = model.quantized_model();
  if (quantized == nullptr) {
    throw Error(ErrorKind::kFailedPrecondition, "localization needs the W8A8 model, which model \"" +
                                                    model.info().name + "\" does not have (" +
                                                    model.info().quantization + ")");
  }
  const std::vector<QuantStageInfo>& stages = AllQuantStages();
  std::set<CapturePoint> point_set;
  for (const QuantStageInfo& stage : stages) {
    point_set.insert(stage.inputs.begin(), stage.inputs.end());
    point_set.insert(stage.output);
  }
  const std::vector<CapturePoint> points(point_set.begin(), point_set.end());

  c10::InferenceMode inference;
  const size_t batch = static_cast<size_t>(request.batch_size);
  // sums[mode][layer index][stage]
  std::vector<std::vector<std::vector<StageSums>>> sums(
      request.modes.size(),
      std::vector<std::vector<StageSums>>(request.layers.size(), std::vector<StageSums>(stages.size())));
  for (size_t begin = 0; begin < request.samples.size(); begin += batch) {
    const std::vector<std::vector<int32_t>> samples(
        request.samples.begin() + begin, request.samples.begin() + std::min(request.samples.size(), begin + batch));
    if (cancelled && cancelled()) throw Error(ErrorKind::kCancelled, "localization cancelled by the caller");
    const Captures reference = model.Run(request.reference, samples, request.layers, points, false);
    std::map<std::pair<int, CapturePoint>, at::Tensor> ref;
    for (const auto& [key, tensor] : reference.tensors) ref[key] = ToTensor(tensor);
    for (size_t m = 0; m < request.modes.size(); ++m) {
      if (cancelled && cancelled()) throw Error(ErrorKind::kCancelled, "localization cancelled by the caller");
      const ModeSpec& mode = request.modes[m];
      const Captures full = model.Run(mode, samples, request.layers, points, false);
      for (size_t li = 0; li < request.layers.size(); ++li) {
        const int layer = request.layers[li];
        for (size_t s = 0; s < stages.size(); ++s) {
          std::map<CapturePoint, at::Tensor> inputs;
          for (CapturePoint point : stages[s].inputs) inputs[point] = ref.at({layer, point});
          const at::Tensor& r = ref.at({layer, stages[s].output});
          const at::Tensor isolated = quantized->RunStage(layer, stages[s].stage, mode, inputs).to(at::kCPU);
          StageSums& acc = sums[m][li][s];
          acc.isolated += SumOfSquares(isolated, r);
          acc.full += SumOfSquares(ToTensor(full.tensors.at({layer, stages[s].output})), r);
          acc.reference += SumOfSquares(r);
          acc.count += r.numel();
        }
      }
    }
  }

  std::vector<ModeLocalization> out;
  for (size_t m = 0; m < request.modes.size(); ++m) {
    ModeLocalization mode;
    mode.mode = request.modes[m].name;
    for (size_t li = 0; li < request.layers.size(); ++li) {
      LayerLocalization layer;
      layer.layer = request.layers[li];
      for (size_t s = 0; s < stages.size(); ++s) {
        const StageSums& acc = sums[m][li][s];
        layer.stages.push_back(
            {stages[s].name, stages[s].output, RelativeMse(acc.isolated, acc), RelativeMse(acc.full, acc)});
      }
      MarkBornAndGrows(layer);
      mode.layers.push_back(std::move(layer));
    }
    out.push_back(std::move(mode));
  }
  return out;
}

}  // namespace layerscope
