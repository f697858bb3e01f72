#include "core/compare/resident_model.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
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
#include "core/util/device_memory.h"
#include "core/util/error.h"
#include "core/util/log.h"
#include "kernels/metrics/abs_diff_buckets.h"
#include "kernels/metrics/metrics_reduce_op.h"

#ifdef LAYERSCOPE_WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

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

// A ComparePlan and how many |d| values each (layer, point) keeps for exact percentiles: its whole population, or 0
// for a histogram from the first value on (so no population is ever allocated and then dropped).
struct DetailedPlan {
  ComparePlan plan;
  std::map<CaptureKey, size_t> exact_values;
};

// What bounds a comparison's memory. One mode's |d| populations and the reference's captures of all batches are
// the same number of fp32 values, `total_bytes`. On a GPU, when the two together fit device_bytes, both stay there
// (the fastest path); when only the populations fit, the reference is recomputed per batch and mode. When they do
// not fit but a |d| histogram (2.2 MiB, kernels/metrics/abs_diff_buckets.h) per (layer, point) does, the metrics
// stay on the GPU all the same: (layer, point)s, smallest first, keep their whole population there (exact
// percentiles) while it fits next to the others' histograms, the others count |d| into their histogram (estimated
// percentiles, their relative error bound reported), and the reference, larger than the budget, is recomputed.
// Otherwise the populations go to the CPU accumulators: smallest first, whole populations while the sum fits
// host_bytes, the others a histogram each, outside the budget (MetricAccumulator); the reference's captures are
// stored in host memory when they fit next to those populations, else recomputed. Beyond these, one batch's
// captures of two modes (and a GPU's working set of one forward pass) are live at a time.
DetailedPlan PlanWithin(const CompareRequest& request, const MambaConfig& config, bool on_gpu,
                        const CompareMemoryBudget& budget) {
  const int64_t tokens =
      request.samples.empty() ? 0 : static_cast<int64_t>(request.samples[0].size() * request.samples.size());
  std::vector<std::pair<int64_t, CaptureKey>> populations;  // |d| values of one mode, per (layer, point)
  int64_t total_bytes = 0;
  for (int layer : request.layers) {
    for (CapturePoint point : request.points) {
      const int64_t values = tokens * CaptureChannels(point, config);
      populations.push_back({values, {layer, point}});
      total_bytes += 4 * values;
    }
  }
  std::sort(populations.begin(), populations.end());
  DetailedPlan out;
  // Smallest first, each population kept whole when fits(bytes of the populations kept with it, how many) says so.
  // Returns the bytes kept.
  auto keep_populations = [&](auto fits) {
    int64_t exact_bytes = 0, exact = 0;
    for (const auto& [values, key] : populations) {
      const bool keep = fits(exact_bytes + 4 * values, exact + 1);
      if (keep) exact_bytes += 4 * values, ++exact;
      out.exact_values[key] = keep ? static_cast<size_t>(values) : 0;
      out.plan.histogram_captures += keep ? 0 : 1;
    }
    return exact_bytes;
  };
  const int64_t captures = static_cast<int64_t>(populations.size());
  constexpr int64_t kHistogramBytes = int64_t{sizeof(uint64_t)} * kAbsDiffBuckets;
  if (on_gpu && total_bytes <= budget.device_bytes) {
    out.plan.metrics_on_device = true;
    out.plan.reference_stored = 2 * total_bytes <= budget.device_bytes;
    keep_populations([](int64_t, int64_t) { return true; });
  } else if (on_gpu && captures * kHistogramBytes <= budget.device_bytes) {
    out.plan.metrics_on_device = true;
    out.plan.reference_stored = false;
    keep_populations([&](int64_t exact_bytes, int64_t exact) {
      return exact_bytes + (captures - exact) * kHistogramBytes <= budget.device_bytes;
    });
  } else {
    const int64_t exact_bytes = keep_populations([&](int64_t bytes, int64_t) { return bytes <= budget.host_bytes; });
    out.plan.reference_stored = exact_bytes + total_bytes <= budget.host_bytes;
  }
  const int64_t batch = std::max(1, request.batch_size);
  const int64_t batches = (static_cast<int64_t>(request.samples.size()) + batch - 1) / batch;
  const int64_t modes = static_cast<int64_t>(request.modes.size());
  out.plan.forward_passes = batches * (out.plan.reference_stored ? modes + 1 : 2 * modes);
  return out;
}

// MetricAccumulator's device counterpart: per batch, one reduction kernel (kernels/metrics) that also writes the
// batch's |d| into its slice of a population buffer, at the end one selection of the percentile ranks; or, for a
// population the plan does not keep, that counts the batch's |d| into a device histogram with MetricAccumulator's
// buckets, at the end read with its percentile code (the same estimates as MetricAccumulator's histogram).
class DeviceMetricAccumulator {
 public:
  // `population`: the |d| values to keep (every sample's), or 0 to count them into a histogram instead.
  DeviceMetricAccumulator(int64_t population, at::Device device)
      : abs_diff_(population > 0 ? at::empty({population}, at::TensorOptions().dtype(at::kFloat).device(device))
                                 : at::Tensor()),
        histogram_(population > 0 ? at::Tensor()
                                  : at::zeros({kAbsDiffBuckets}, at::TensorOptions().dtype(at::kLong).device(device))) {
  }

  void Add(const at::Tensor& ref, const at::Tensor& mode) {
    if (histogram_.defined()) {
      // The kernel's shared-memory counters cover the binades around the mean |d| so far (speed only).
      const float center = moments_.count > 0 ? static_cast<float>(moments_.sum_abs_d / moments_.count) : 0.0f;
      moments_.Merge(ReducePairsIntoHistogram(ref, mode, histogram_, center));
      return;
    }
    const int64_t n = ref.numel();
    moments_.Merge(ReducePairs(ref, mode, abs_diff_.narrow(0, filled_, n)));
    filled_ += n;
  }

  Metrics Finish() const {
    double percentiles[4] = {0, 0, 0, 0};
    if (moments_.count > 0) {
      const std::vector<double> qs(std::begin(kReportedPercentiles), std::end(kReportedPercentiles));
      const std::vector<double> values = histogram_.defined()
                                             ? AbsDiffHistogramPercentiles(histogram_, moments_.count, qs)
                                             : AbsDiffPercentiles(abs_diff_.narrow(0, 0, filled_), moments_.count, qs);
      std::copy(values.begin(), values.end(), percentiles);
    }
    return MetricsFromMoments(moments_, percentiles, histogram_.defined() ? kAbsDiffHistogramRelativeError : 0);
  }

 private:
  at::Tensor abs_diff_;   // the kept population, or undefined
  at::Tensor histogram_;  // kAbsDiffBuckets counts, or undefined
  int64_t filled_ = 0;
  PairMoments moments_{};
};

// Splits a comparison's wall time into its stages (CompareTimings). Lap ends the current interval and adds it to
// the named stage; on a GPU it first waits for the work queued on the current stream, which is where LibTorch and
// our kernels queue it, so that asynchronous work is charged to the stage that queued it.
class StageClock {
 public:
  explicit StageClock(at::Device device) : device_(device), last_(std::chrono::steady_clock::now()) {}

  void Lap(const std::string& stage) {
#ifdef LAYERSCOPE_WITH_CUDA
    if (device_.is_cuda()) c10::cuda::getCurrentCUDAStream(device_.index()).synchronize();
#endif
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    const auto it =
        std::find_if(timings_.begin(), timings_.end(), [&](const StageTime& t) { return t.stage == stage; });
    if (it == timings_.end()) {
      timings_.push_back({stage, seconds});
    } else {
      it->seconds += seconds;
    }
  }

  const CompareTimings& timings() const { return timings_; }

 private:
  const at::Device device_;
  std::chrono::steady_clock::time_point last_;
  CompareTimings timings_;
};

}  // namespace

struct ResidentModel::Impl {
  ModelInfo info;
  at::Device device{at::kCPU};
  std::map<FloatPrecision, std::unique_ptr<FloatMamba>> float_models;
  std::unique_ptr<QuantizedMamba> quantized;
  CompareMemoryBudget compare_memory;

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
                                            size_t end, bool on_device, StageClock& clock) const {
    const at::Tensor ids = TokenTensor(request.samples, begin, end);
    clock.Lap("copies");
    CaptureSink sink(request.layers, request.points, /*keep_logits=*/false);
    Forward(mode, ids, sink, nullptr);
    clock.Lap("forward " + mode.name);
    std::map<CaptureKey, at::Tensor> out;
    for (auto& [key, tensor] : sink.tensors) {
      out[key] = (on_device ? tensor : tensor.to(at::kCPU)).to(at::kFloat).contiguous();
    }
    clock.Lap("copies");
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

std::vector<std::string> ResidentModel::ExpandDevices(const std::string& devices) {
  std::vector<std::string> out;
  if (devices == "cuda") {
    const int gpus = at::hasCUDA() ? static_cast<int>(at::getNumGPUs()) : 0;
    for (int i = 0; i < gpus; ++i) out.push_back("cuda:" + std::to_string(i));
    if (out.empty()) ParseDevice(devices);  // throws, saying why there is none
    return out;
  }
  size_t begin = 0;
  for (;;) {
    const size_t comma = devices.find(',', begin);
    const std::string device = devices.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    ParseDevice(device);  // throws naming the entry
    out.push_back(device);
    if (comma == std::string::npos) return out;
    begin = comma + 1;
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
  impl->compare_memory = options.compare_memory;
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

const QuantizedMamba* ResidentModel::quantized_model() const { return impl_->quantized.get(); }

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
      ReleaseCachedDeviceMemory();
      throw Error(ErrorKind::kResourceExhausted,
                  "the device ran out of memory (ask for fewer samples, a shorter "
                  "seq_len, a smaller batch_size or fewer layers): " +
                      what);
    }
    throw Error(ErrorKind::kInternal, "LibTorch: " + what);
  }
}

}  // namespace

std::unique_ptr<ResidentModel> ResidentModel::ReplicateTo(const std::string& device) const {
  const auto start = std::chrono::steady_clock::now();
  auto impl = std::make_unique<Impl>();
  impl->device = ParseDevice(device);
  impl->info = impl_->info;
  impl->info.device = impl->device.str();
  impl->compare_memory = impl_->compare_memory;
  TranslateTorchErrors([&] {
    c10::InferenceMode inference;
    for (const auto& [precision, model] : impl_->float_models) {
      impl->float_models[precision] = std::make_unique<FloatMamba>(model->CopyTo(impl->device));
    }
    if (impl_->quantized) impl->quantized = std::make_unique<QuantizedMamba>(impl_->quantized->weights(), impl->device);
  });
  Log(LogLevel::kInfo, "replicated model \"" + impl->info.name + "\" from " + impl_->info.device + " to " +
                           impl->info.device + " in " + Seconds(start));
  return std::unique_ptr<ResidentModel>(new ResidentModel(std::move(impl)));
}

Captures ResidentModel::Run(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples,
                            const std::vector<int>& layers, const std::vector<CapturePoint>& points,
                            bool keep_logits) const {
  // Our kernels launch on the calling thread's current device, and replicas on several GPUs are driven from
  // several threads: make it this model's.
  c10::OptionalDeviceGuard on_model_device;
  if (impl_->device.is_cuda()) on_model_device.reset_device(impl_->device);
  return TranslateTorchErrors([&] { return RunUnguarded(mode, samples, layers, points, keep_logits); });
}

void ResidentModel::Compare(const CompareRequest& request, CompareObserver& observer) const {
  c10::OptionalDeviceGuard on_model_device;  // as in Run
  if (impl_->device.is_cuda()) on_model_device.reset_device(impl_->device);
  TranslateTorchErrors([&] { CompareUnguarded(request, observer); });
}

ComparePlan ResidentModel::PlanCompare(const CompareRequest& request) const {
  return PlanWithin(request, impl_->info.config, impl_->device.is_cuda(), impl_->compare_memory).plan;
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
  StageClock clock(impl_->device);
  const size_t n_samples = request.samples.size();
  const size_t batch = static_cast<size_t>(request.batch_size);
  const int64_t n_batches = static_cast<int64_t>((n_samples + batch - 1) / batch);
  const DetailedPlan plan = PlanWithin(request, impl_->info.config, impl_->device.is_cuda(), impl_->compare_memory);
  const bool on_device = plan.plan.metrics_on_device;
  CompareProgress progress;
  progress.steps_total = plan.plan.forward_passes;
  auto step = [&](const std::string& mode, int64_t b) {
    if (observer.IsCancelled()) throw Error(ErrorKind::kCancelled, "comparison cancelled by the caller");
    ++progress.steps_done;
    progress.stage = mode + " batch " + std::to_string(b + 1) + "/" + std::to_string(n_batches);
    observer.OnProgress(progress);
  };
  auto run_reference = [&](int64_t b, const std::string& stage) {
    auto captures =
        impl_->RunBatch(request.reference, request, b * batch, std::min(n_samples, (b + 1) * batch), on_device, clock);
    step(stage, b);
    clock.Lap("reporting");
    return captures;
  };

  // Captures stay on the GPU when the metrics are reduced there, else they go to the CPU accumulators
  // (PlanWithin says what fits where). A stored reference runs once, before the modes.
  std::vector<std::map<CaptureKey, at::Tensor>> reference;
  if (plan.plan.reference_stored) {
    for (int64_t b = 0; b < n_batches; ++b) reference.push_back(run_reference(b, request.reference.name));
  }
  for (const ModeSpec& mode : request.modes) {
    std::map<CaptureKey, MetricAccumulator> accumulators;
    if (!on_device) {
      for (const auto& [key, values] : plan.exact_values) accumulators.try_emplace(key, values);
    }
    std::map<CaptureKey, DeviceMetricAccumulator> device_accumulators;
    for (int64_t b = 0; b < n_batches; ++b) {
      const std::map<CaptureKey, at::Tensor> recomputed =
          plan.plan.reference_stored ? std::map<CaptureKey, at::Tensor>{}
                                     : run_reference(b, request.reference.name + " (for " + mode.name + ")");
      const std::map<CaptureKey, at::Tensor>& batch_reference = plan.plan.reference_stored ? reference[b] : recomputed;
      auto captures = impl_->RunBatch(mode, request, b * batch, std::min(n_samples, (b + 1) * batch), on_device, clock);
      std::vector<std::pair<CaptureKey, const at::Tensor*>> on_host;
      for (auto& [key, tensor] : captures) {
        const at::Tensor& ref = batch_reference.at(key);
        if (on_device) {
          device_accumulators.try_emplace(key, static_cast<int64_t>(plan.exact_values.at(key)), ref.device())
              .first->second.Add(ref, tensor);
        } else {
          on_host.push_back({key, &tensor});
        }
      }
      // Each (layer, point) has its own accumulator, fed by one thread in element order: parallel over them, the
      // rows stay bit-identical.
      at::parallel_for(0, static_cast<int64_t>(on_host.size()), 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const auto& [key, tensor] = on_host[i];
          const at::Tensor& ref = batch_reference.at(key);
          accumulators.at(key).Add(ref.data_ptr<float>(), tensor->data_ptr<float>(), static_cast<size_t>(ref.numel()));
        }
      });
      clock.Lap("metrics");
      step(mode.name, b);
      clock.Lap("reporting");
    }
    for (int layer : request.layers) {
      for (CapturePoint point : request.points) {
        MetricsRow row;
        row.mode = mode.name;
        row.layer = layer;
        row.point = point;
        row.metrics =
            on_device ? device_accumulators.at({layer, point}).Finish() : accumulators.at({layer, point}).Finish();
        clock.Lap("metrics");
        observer.OnRow(row);
        clock.Lap("reporting");
      }
    }
  }
  observer.OnTimings(clock.timings());
}

}  // namespace layerscope
