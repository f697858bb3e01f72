#include "core/compare/resident_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>

#include "core/metrics/metric_accumulator.h"
#include "core/model/checkpoint.h"
#include "core/model/mamba_model.h"
#include "core/util/error.h"
#include "core/util/log.h"

namespace layerscope {
namespace {

at::Device ParseDevice(const std::string& device) {
  if (device == "cpu") return at::Device(at::kCPU);
  if (device == "cuda" || device.rfind("cuda:", 0) == 0) {
    if (!ResidentModel::DeviceAvailable(device)) {
      throw Error(ErrorKind::kFailedPrecondition,
                  "device \"" + device + "\" is not available: " +
                      (at::hasCUDA() ? std::to_string(at::getNumGPUs()) + " CUDA device(s) visible"
                                     : std::string("this build or machine has no CUDA")));
    }
    return device == "cuda" ? at::Device(at::kCUDA, 0) : at::Device(device);
  }
  throw Error(ErrorKind::kInvalidArgument, "device \"" + device + "\" is not one of cpu, cuda, cuda:N");
}

std::string Basename(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

using CaptureKey = std::pair<int, CapturePoint>;

}  // namespace

struct ResidentModel::Impl {
  ModelInfo info;
  at::Device device{at::kCPU};
  std::map<FloatPrecision, std::unique_ptr<FloatMamba>> float_models;

  const FloatMamba& FloatModel(const ModeSpec& mode) const {
    if (mode.weights != WeightSet::kFloat) {
      throw Error(ErrorKind::kFailedPrecondition,
                  "mode \"" + mode.name + "\" needs the quantized (W8A8) model, which this server has not built");
    }
    return *float_models.at(mode.precision);
  }

  at::Tensor TokenTensor(const std::vector<std::vector<int32_t>>& samples, size_t begin, size_t end) const {
    const int64_t seqlen = static_cast<int64_t>(samples[begin].size());
    at::Tensor ids = at::empty({static_cast<int64_t>(end - begin), seqlen}, at::kLong);
    int64_t* out = ids.data_ptr<int64_t>();
    for (size_t s = begin; s < end; ++s) {
      if (static_cast<int64_t>(samples[s].size()) != seqlen) {
        throw Error(ErrorKind::kInvalidArgument, "samples[" + std::to_string(s) + "] has " +
                                                     std::to_string(samples[s].size()) + " tokens, samples[" +
                                                     std::to_string(begin) + "] has " + std::to_string(seqlen));
      }
      for (int32_t id : samples[s]) {
        if (id < 0 || id >= info.config.vocab_size) {
          throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                                       std::to_string(info.config.vocab_size) + ")");
        }
        *out++ = id;
      }
    }
    return ids.to(device);
  }

  // One forward of `mode` over samples [begin, end); captures as fp32 on the CPU, ready for the accumulators.
  std::map<CaptureKey, at::Tensor> RunBatch(const ModeSpec& mode, const CompareRequest& request, size_t begin,
                                            size_t end) const {
    CaptureSink sink(request.layers, request.points, /*keep_logits=*/false);
    FloatModel(mode).Forward(TokenTensor(request.samples, begin, end), sink);
    std::map<CaptureKey, at::Tensor> host;
    for (auto& [key, tensor] : sink.tensors) host[key] = tensor.to(at::kCPU).contiguous();
    return host;
  }
};

ResidentModel::ResidentModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResidentModel::~ResidentModel() = default;

std::string ResidentModel::EmbeddedModelDir() { return LAYERSCOPE_EMBEDDED_MODEL_DIR; }

bool ResidentModel::DeviceAvailable(const std::string& device) {
  if (device == "cpu") return true;
  if (!at::hasCUDA()) return false;
  if (device == "cuda") return at::getNumGPUs() > 0;
  if (device.rfind("cuda:", 0) != 0) return false;
  try {
    const int index = std::stoi(device.substr(5));
    return index >= 0 && index < static_cast<int>(at::getNumGPUs());
  } catch (const std::exception&) {
    return false;
  }
}

std::unique_ptr<ResidentModel> ResidentModel::Load(const std::string& dir, const std::string& device) {
  const auto start = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  impl->device = ParseDevice(device);
  const Checkpoint checkpoint = LoadCheckpoint(dir);
  c10::InferenceMode inference;
  for (FloatPrecision precision : {FloatPrecision::kFp32, FloatPrecision::kFp16, FloatPrecision::kBf16}) {
    impl->float_models[precision] = std::make_unique<FloatMamba>(checkpoint, impl->device, precision);
  }
  ModelInfo& info = impl->info;
  info.dir = dir;
  info.name = dir == EmbeddedModelDir() ? "embedded" : Basename(dir);
  info.weights = checkpoint.weights_description;
  info.device = impl->device.str();
  info.config = checkpoint.config;
  for (const auto& [key, tensor] : checkpoint.weights) info.parameters += tensor.numel();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log(LogLevel::kInfo, "loaded model \"" + info.name + "\" from " + dir + " (" + info.weights + ", " +
                           std::to_string(info.parameters) + " parameters) on " + info.device + " in " +
                           std::to_string(seconds) + " s");
  return std::unique_ptr<ResidentModel>(new ResidentModel(std::move(impl)));
}

const ModelInfo& ResidentModel::info() const { return impl_->info; }

Captures ResidentModel::Run(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples,
                            const std::vector<int>& layers, const std::vector<CapturePoint>& points,
                            bool keep_logits) const {
  if (samples.empty()) throw Error(ErrorKind::kInvalidArgument, "no samples to run");
  c10::InferenceMode inference;
  CaptureSink sink(layers, points, keep_logits);
  impl_->FloatModel(mode).Forward(impl_->TokenTensor(samples, 0, samples.size()), sink);
  Captures captures;
  for (const auto& [key, tensor] : sink.tensors) captures.tensors[key] = ToHost(tensor);
  if (keep_logits) captures.logits = ToHost(sink.logits);
  return captures;
}

void ResidentModel::Compare(const CompareRequest& request, CompareObserver& observer) const {
  if (request.modes.empty()) throw Error(ErrorKind::kInvalidArgument, "modes: at least one mode is required");
  if (request.samples.empty()) throw Error(ErrorKind::kInvalidArgument, "samples: at least one sample is required");
  if (request.batch_size < 1) throw Error(ErrorKind::kInvalidArgument, "batch_size must be at least 1");
  for (int layer : request.layers) {
    if (layer < 0 || layer >= impl_->info.config.n_layer) {
      throw Error(ErrorKind::kInvalidArgument, "layer " + std::to_string(layer) + " is out of range [0, " +
                                                   std::to_string(impl_->info.config.n_layer) + ")");
    }
  }
  c10::InferenceMode inference;
  const size_t n_samples = request.samples.size();
  const size_t batch = static_cast<size_t>(request.batch_size);
  const int64_t n_batches = static_cast<int64_t>((n_samples + batch - 1) / batch);
  CompareProgress progress;
  progress.steps_total = n_batches * static_cast<int64_t>(request.modes.size() + 1);
  auto step = [&](const std::string& mode, int64_t b) {
    if (observer.IsCancelled()) throw Error(ErrorKind::kCancelled, "comparison cancelled by the caller");
    ++progress.steps_done;
    progress.stage = mode + " batch " + std::to_string(b + 1) + "/" + std::to_string(n_batches);
    observer.OnProgress(progress);
  };

  // The reference runs once; its captures are kept for every mode (they cost what one mode's captures cost).
  std::vector<std::map<CaptureKey, at::Tensor>> reference(n_batches);
  for (int64_t b = 0; b < n_batches; ++b) {
    reference[b] = impl_->RunBatch(request.reference, request, b * batch, std::min(n_samples, (b + 1) * batch));
    step(request.reference.name, b);
  }
  for (const ModeSpec& mode : request.modes) {
    std::map<CaptureKey, MetricAccumulator> accumulators;
    for (int64_t b = 0; b < n_batches; ++b) {
      auto captures = impl_->RunBatch(mode, request, b * batch, std::min(n_samples, (b + 1) * batch));
      for (auto& [key, tensor] : captures) {
        const at::Tensor& ref = reference[b].at(key);
        accumulators[key].Add(ref.data_ptr<float>(), tensor.data_ptr<float>(), static_cast<size_t>(ref.numel()));
      }
      step(mode.name, b);
    }
    for (int layer : request.layers) {
      for (CapturePoint point : request.points) {
        MetricsRow row;
        row.mode = mode.name;
        row.layer = layer;
        row.point = point;
        row.metrics = accumulators.at({layer, point}).Finish();
        observer.OnRow(row);
      }
    }
  }
}

}  // namespace layerscope
