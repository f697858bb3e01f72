// ResidentModel: a Mamba-1 model loaded once onto a device and kept there, able to run any mode over token
// batches, capture named points and compare modes. All LibTorch lives behind this interface.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/capture/capture_point.h"
#include "core/compare/comparison.h"
#include "core/model/host_tensor.h"
#include "core/model/model_config.h"
#include "core/modes/mode_spec.h"
#include "core/quant/calibration.h"

namespace layerscope {

class QuantizedMamba;

struct ModelInfo {
  std::string name;  // folder name
  std::string dir;
  std::string weights;  // what was read ("model.safetensors", ...)
  std::string device;   // "cpu", "cuda:0"
  MambaConfig config;
  int64_t parameters = 0;
  bool float_available = false;      // the FP modes (fp32, fp16, bf16) can run
  bool quantized_available = false;  // the W8A8 modes can run
  // How the W8A8 model came to be ("calibrated on 10 x 512 bytes of calib.txt, alpha 0.9995, fp16 weight
  // arithmetic, 2.1 s", "loaded from a Quamba checkpoint"), or why there is none.
  std::string quantization;
};

// What Load does besides reading the checkpoint: the W8A8 (Quamba) model is built once, at load.
struct LoadOptions {
  bool quantize = true;
  CalibrationOptions calibration;
  // Token ids to calibrate on (each calibration.seq_len long). Empty: for byte-vocabulary models (vocab 256),
  // calibration.samples windows of calibration_text; other models then get no quantized model.
  std::vector<std::vector<int32_t>> calibration_samples;
  // Where calibration_samples came from, for ModelInfo.quantization; empty: "N given samples".
  std::string calibration_source;
  std::string calibration_text;        // a text file; empty: the embedded model's calib.txt
  CompareMemoryBudget compare_memory;  // of each Compare call (a replica keeps it)
};

// What one forward pass captured: (layer, point) -> [batch, seqlen, channels] fp32, FP basis; plus logits
// [batch, seqlen, vocab] when asked for.
struct Captures {
  std::map<std::pair<int, CapturePoint>, HostTensor> tensors;
  std::map<std::pair<int, CapturePoint>, CaptureDescription> descriptions;  // dtype, scale and basis of each
  HostTensor logits;
  // Quantized modes: out_proj input values beyond [-128, 127] (saturated, or wrapped under had_overflow=wrap).
  int64_t out_proj_input_overflows = 0;
};

class ResidentModel {
 public:
  // Loads the checkpoint in `dir` onto `device` ("cpu", "cuda", "cuda:N") and, per `options`, quantizes it
  // (MODES.md §2). A Quamba checkpoint folder (ssm_cfg.layer "W8A8QMamba") loads the quantized model only: float
  // modes then fail with kFailedPrecondition. Throws Error naming what failed.
  static std::unique_ptr<ResidentModel> Load(const std::string& dir, const std::string& device,
                                             const LoadOptions& options = {});
  // The embedded default model's folder.
  static std::string EmbeddedModelDir();
  // Whether this build can run on `device` ("cuda" needs a CUDA build and a visible GPU).
  static bool DeviceAvailable(const std::string& device);
  // The devices a server's --device names: "cuda" is every visible GPU ("cuda:0", "cuda:1", ...); otherwise a
  // comma-separated list of cpu, cuda, cuda:N, each one device (a device may repeat: "cpu,cpu" is two CPU workers).
  // Throws Error naming the entry: kInvalidArgument when it is none of those, kFailedPrecondition when unavailable.
  static std::vector<std::string> ExpandDevices(const std::string& devices);

  ~ResidentModel();
  ResidentModel(const ResidentModel&) = delete;
  ResidentModel& operator=(const ResidentModel&) = delete;

  const ModelInfo& info() const;

  // A copy of this model on `device`: the FP weights and the W8A8 model (tensors and scales) as they are, so that
  // the copy's results are bit for bit those of this model on the same kind of device, without loading or
  // calibrating again. Throws Error as Load does for the device.
  std::unique_ptr<ResidentModel> ReplicateTo(const std::string& device) const;

  // Writes the W8A8 model as a Quamba checkpoint (config.json + pytorch_model.bin) into `dir`.
  // Error(kFailedPrecondition) when there is no quantized model.
  void SaveQuantized(const std::string& dir) const;

  // One forward pass of `mode` over `samples` (equal lengths), keeping the requested captures.
  Captures Run(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples, const std::vector<int>& layers,
               const std::vector<CapturePoint>& points, bool keep_logits) const;

  // Runs the reference and every mode over the same batches and streams metrics rows, holding no more than
  // LoadOptions.compare_memory allows (PlanCompare). The request must be valid (the service validates); violations
  // throw Error(kInvalidArgument). Safe to call from several threads.
  void Compare(const CompareRequest& request, CompareObserver& observer) const;
  // How Compare runs `request` on this model within LoadOptions.compare_memory; the request is not validated.
  ComparePlan PlanCompare(const CompareRequest& request) const;

  // The W8A8 model, for the core's analyses that run its stages one by one (core/analysis); null when there is
  // none.
  const QuantizedMamba* quantized_model() const;

 private:
  // The bodies of Run and Compare; the public methods translate LibTorch's errors (out of memory) into Error.
  Captures RunUnguarded(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples,
                        const std::vector<int>& layers, const std::vector<CapturePoint>& points,
                        bool keep_logits) const;
  void CompareUnguarded(const CompareRequest& request, CompareObserver& observer) const;

  struct Impl;
  explicit ResidentModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerscope
