#include "core/compare/resident_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>

#include "core/data/byte_samples.h"
#include "core/metrics/metric_accumulator.h"
#include "core/model/checkpoint.h"
#include "core/model/mamba_model.h"
#include "core/quant/quamba_checkpoint.h"
#include "core/quant/quantized_mamba.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "kernels/metrics/metrics_reduce_op.h"

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

// The |d| populations of one mode kept on a GPU for exact percentiles: 8 GiB (the reference captures of the same
// size are kept too). A comparison beyond it uses the CPU accumulators.
constexpr int64_t kDevicePopulationBudgetBytes = int64_t{8} << 30;

// MetricAccumulator's device counterpart: per batch, one reduction kernel (kernels/metrics) that also writes the
// batch's |d| into its slice of a population buffer; at the end one selection of the percentile ranks.
class DeviceMetricAccumulator {
 public:
  DeviceMetricAccumulator(int64_t population, at::Device device)
      : abs_diff_(at::empty({population}, at::TensorOptions().dtype(at::kFloat).device(device))) {}

  void Add(const at::Tensor& ref, const at::Tensor& mode) {
    const int64_t n = ref.numel();
    moments_.Merge(ReducePairs(ref, mode, abs_diff_.narrow(0, filled_, n)));
    filled_ += n;
  }

  Metrics Finish() const {
    double percentiles[4] = {0, 0, 0, 0};
    if (moments_.count > 0) {
      const std::vector<double> values =
          AbsDiffPercentiles(abs_diff_.narrow(0, 0, filled_), moments_.count,
                             std::vector<double>(std::begin(kReportedPercentiles), std::end(kReportedPercentiles)));
      std::copy(values.begin(), values.end(), percentiles);
    }
    return MetricsFromMoments(moments_, percentiles, 0);
  }

 private:
  at::Tensor abs_diff_;
  int64_t filled_ = 0;
  PairMoments moments_{};
};

}  // namespace

struct ResidentModel::Impl {
  ModelInfo info;
  at::Device device{at::kCPU};
  std::map<FloatPrecision, std::unique_ptr<FloatMamba>> float_models;
  std::unique_ptr<QuantizedMamba> quantized;

  // One forward of `mode` on the model its weights field names (FP or W8A8).
  void Forward(const ModeSpec& mode, const at::Tensor& ids, CaptureSink& sink, ForwardCounters* counters) const {
    if (mode.weights == WeightSet::kQuantized) {
      if (!quantized) {
        throw Error(ErrorKind::kFailedPrecondition,
                    "mode \"" + mode.name +
                        "\" needs the quantized (W8A8) model, which this server has not built: " + info.quantization);
      }
      quantized->Forward(ids, mode, sink, counters);
      return;
    }
    if (float_models.empty()) {
      throw Error(ErrorKind::kFailedPrecondition,
                  "mode \"" + mode.name + "\" needs the FP checkpoint: " + info.dir +
                      " holds a Quamba W8A8 checkpoint, which has no FP weights (MODES.md §2.4); load the FP "
                      "checkpoint it was made from for fp32/fp16/bf16 and an fp32 reference");
    }
    float_models.at(mode.precision)->Forward(ids, sink);
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
          throw Error(ErrorKind::kInvalidArgument, "token id " + std::to_string(id) +
                                                       " is outside the vocabulary [0, " +
                                                       std::to_string(info.config.vocab_size) + ")");
        }
        *out++ = id;
      }
    }
    return ids.to(device);
  }

  // One forward of `mode` over samples [begin, end); captures as contiguous fp32, on the CPU for the CPU
  // accumulators or left on the model's device for the device reduction.
  std::map<CaptureKey, at::Tensor> RunBatch(const ModeSpec& mode, const CompareRequest& request, size_t begin,
                                            size_t end, bool on_device) const {
    CaptureSink sink(request.layers, request.points, /*keep_logits=*/false);
    Forward(mode, TokenTensor(request.samples, begin, end), sink, nullptr);
    std::map<CaptureKey, at::Tensor> out;
    for (auto& [key, tensor] : sink.tensors) {
      out[key] = (on_device ? tensor : tensor.to(at::kCPU)).to(at::kFloat).contiguous();
    }
    return out;
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

namespace {

// The calibration sequences `options` asks for, or an empty list with the reason in *why.
std::vector<std::vector<int32_t>> CalibrationSamples(const MambaConfig& config, const LoadOptions& options,
                                                     std::string* why) {
  if (!options.calibration_samples.empty()) {
    *why = options.calibration_source.empty() ? std::to_string(options.calibration_samples.size()) + " given samples"
                                              : options.calibration_source;
    return options.calibration_samples;
  }
  if (config.vocab_size != 256) {
    *why = "no calibration samples given, and the model's vocabulary (" + std::to_string(config.vocab_size) +
           " tokens) is not byte-level, so calibration text cannot be used without a tokenizer";
    return {};
  }
  const std::string path =
      options.calibration_text.empty() ? ResidentModel::EmbeddedModelDir() + "/calib.txt" : options.calibration_text;
  *why = std::to_string(options.calibration.samples) + " x " + std::to_string(options.calibration.seq_len) +
         " bytes of " + path;
  return ByteSamples(ReadTextFile(path), options.calibration.samples, options.calibration.seq_len);
}

std::string Seconds(std::chrono::steady_clock::time_point start) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return text;
}

}  // namespace

std::unique_ptr<ResidentModel> ResidentModel::Load(const std::string& dir, const std::string& device,
                                                   const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  impl->device = ParseDevice(device);
  ModelInfo& info = impl->info;
  info.dir = dir;
  info.name = dir == EmbeddedModelDir() ? "embedded" : Basename(dir);
  info.device = impl->device.str();
  c10::InferenceMode inference;
  // LoadCheckpoint reports a missing folder or config.json; a Quamba config takes the quantized-only path.
  const std::string config_path = dir + "/config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(config_path, ec) &&
      ReadMambaConfig(config_path).layout == CheckpointLayout::kQuamba) {
    // A Quamba checkpoint holds the quantized model only (MODES.md §2.4).
    QuantizedWeights weights = LoadQuambaCheckpoint(dir);
    info.config = weights.config;
    info.weights = "pytorch_model.bin (Quamba W8A8)";
    for (const at::Tensor& t : {weights.embedding, weights.norm_f, weights.lm_head}) info.parameters += t.numel();
    for (const QuantizedLayer& l : weights.layers) {
      for (const at::Tensor& t : {l.in_proj.weight, l.conv_weight, l.conv_bias, l.x_proj.weight, l.dt_proj.weight,
                                  l.A_log, l.D, l.dt_bias, l.out_proj.weight}) {
        info.parameters += t.numel();
      }
    }
    impl->quantized = std::make_unique<QuantizedMamba>(std::move(weights), impl->device);
    info.quantization = "loaded from a Quamba checkpoint";
  } else {
    const Checkpoint checkpoint = LoadCheckpoint(dir);
    for (FloatPrecision precision : {FloatPrecision::kFp32, FloatPrecision::kFp16, FloatPrecision::kBf16}) {
      impl->float_models[precision] = std::make_unique<FloatMamba>(checkpoint, impl->device, precision);
    }
    info.weights = checkpoint.weights_description;
    info.config = checkpoint.config;
    for (const auto& [key, tensor] : checkpoint.weights) info.parameters += tensor.numel();
    if (options.quantize) {
      const auto quant_start = std::chrono::steady_clock::now();
      std::string source;
      const auto samples = CalibrationSamples(checkpoint.config, options, &source);
      if (samples.empty()) {
        info.quantization = "not quantized: " + source;
      } else {
        impl->quantized = std::make_unique<QuantizedMamba>(
            QuantizeCheckpoint(checkpoint, samples, options.calibration, impl->device.str()), impl->device);
        char alpha[32];
        std::snprintf(alpha, sizeof(alpha), "%g", options.calibration.percentile_alpha);
        info.quantization = "calibrated on " + source + ", alpha " + alpha + ", " +
                            (options.calibration.fp16_weight_arithmetic ? "fp16" : "fp32") + " weight arithmetic, in " +
                            Seconds(quant_start);
      }
    } else {
      info.quantization = "not quantized: the load options said not to";
    }
  }
  info.float_available = !impl->float_models.empty();
  info.quantized_available = impl->quantized != nullptr;
  Log(LogLevel::kInfo, "loaded model \"" + info.name + "\" from " + dir + " (" + info.weights + ", " +
                           std::to_string(info.parameters) + " parameters) on " + info.device + " in " +
                           Seconds(start) + "; W8A8: " + info.quantization);
  return std::unique_ptr<ResidentModel>(new ResidentModel(std::move(impl)));
}

void ResidentModel::SaveQuantized(const std::string& dir) const {
  if (!impl_->quantized) {
    throw Error(ErrorKind::kFailedPrecondition, "no quantized model to save: " + impl_->info.quantization);
  }
  SaveQuambaCheckpoint(impl_->quantized->weights(), dir);
}

const ModelInfo& ResidentModel::info() const { return impl_->info; }

namespace {

// LibTorch reports a device that ran out of memory as a c10::Error ("CUDA out of memory. Tried to allocate ...";
// on the CPU "not enough memory").
// Callers get the core's kResourceExhausted, so that the service answers RESOURCE_EXHAUSTED for that request and
// keeps serving the next; any other LibTorch error escaping the model is a bug (kInternal).
template <typename Body>
auto TranslateTorchErrors(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const c10::Error& error) {
    std::string what = error.what_without_backtrace();
    what = what.substr(0, what.find('\n'));
    if (what.find("out of memory") != std::string::npos || what.find("not enough memory") != std::string::npos) {
      throw Error(ErrorKind::kResourceExhausted,
                  "the device ran out of memory (ask for fewer samples, a shorter "
                  "seq_len, a smaller batch_size or fewer layers): " +
                      what);
    }
    throw Error(ErrorKind::kInternal, "LibTorch: " + what);
  }
}

}  // namespace

Captures ResidentModel::Run(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples,
                            const std::vector<int>& layers, const std::vector<CapturePoint>& points,
                            bool keep_logits) const {
  return TranslateTorchErrors([&] { return RunUnguarded(mode, samples, layers, points, keep_logits); });
}

void ResidentModel::Compare(const CompareRequest& request, CompareObserver& observer) const {
  TranslateTorchErrors([&] { CompareUnguarded(request, observer); });
}

Captures ResidentModel::RunUnguarded(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples,
                                     const std::vector<int>& layers, const std::vector<CapturePoint>& points,
                                     bool keep_logits) const {
  if (samples.empty()) throw Error(ErrorKind::kInvalidArgument, "no samples to run");
  c10::InferenceMode inference;
  CaptureSink sink(layers, points, keep_logits);
  ForwardCounters counters;
  impl_->Forward(mode, impl_->TokenTensor(samples, 0, samples.size()), sink, &counters);
  Captures captures;
  for (const auto& [key, tensor] : sink.tensors) captures.tensors[key] = ToHost(tensor);
  captures.descriptions = sink.descriptions;
  captures.out_proj_input_overflows = counters.out_proj_input_overflows;
  if (keep_logits) captures.logits = ToHost(sink.logits);
  return captures;
}

void ResidentModel::CompareUnguarded(const CompareRequest& request, CompareObserver& observer) const {
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
  // On a GPU they stay there and the metrics are reduced there too, when every |d| population of one mode fits
  // the device budget (exact percentiles need them all); otherwise captures go to the CPU accumulators, whose
  // percentiles turn into bounded-error estimates past their own budget.
  const bool on_device = impl_->device.is_cuda() && [&] {
    const MambaConfig& c = impl_->info.config;
    int64_t channels = 0;  // per token, summed over the requested points of one layer
    for (CapturePoint point : request.points) {
      switch (point) {
        case CapturePoint::kMixerInput:
        case CapturePoint::kMixerOutput:
        case CapturePoint::kBlockOutput: channels += c.d_model; break;
        case CapturePoint::kInProjOutput: channels += 2 * c.d_inner; break;
        case CapturePoint::kXProjOutput: channels += c.dt_rank + 2 * c.d_state; break;
        default: channels += c.d_inner; break;
      }
    }
    const int64_t bytes = channels * static_cast<int64_t>(request.layers.size()) *
                          static_cast<int64_t>(request.samples[0].size() * n_samples) * 4;
    return bytes <= kDevicePopulationBudgetBytes;
  }();
  std::vector<std::map<CaptureKey, at::Tensor>> reference(n_batches);
  for (int64_t b = 0; b < n_batches; ++b) {
    reference[b] =
        impl_->RunBatch(request.reference, request, b * batch, std::min(n_samples, (b + 1) * batch), on_device);
    step(request.reference.name, b);
  }
  for (const ModeSpec& mode : request.modes) {
    std::map<CaptureKey, MetricAccumulator> accumulators;
    std::map<CaptureKey, DeviceMetricAccumulator> device_accumulators;
    for (int64_t b = 0; b < n_batches; ++b) {
      auto captures = impl_->RunBatch(mode, request, b * batch, std::min(n_samples, (b + 1) * batch), on_device);
      for (auto& [key, tensor] : captures) {
        const at::Tensor& ref = reference[b].at(key);
        if (on_device) {
          device_accumulators
              .try_emplace(key, ref.numel() / ref.size(0) * static_cast<int64_t>(n_samples), ref.device())
              .first->second.Add(ref, tensor);
        } else {
          accumulators[key].Add(ref.data_ptr<float>(), tensor.data_ptr<float>(), static_cast<size_t>(ref.numel()));
        }
      }
      step(mode.name, b);
    }
    for (int layer : request.layers) {
      for (CapturePoint point : request.points) {
        MetricsRow row;
        row.mode = mode.name;
        row.layer = layer;
        row.point = point;
        row.metrics =
            on_device ? device_accumulators.at({layer, point}).Finish() : accumulators.at({layer, point}).Finish();
        observer.OnRow(row);
      }
    }
  }
}

}  // namespace layerscope
