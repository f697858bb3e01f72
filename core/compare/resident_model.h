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

namespace layerscope {

struct ModelInfo {
  std::string name;     // folder name
  std::string dir;
  std::string weights;  // what was read ("model.safetensors", ...)
  std::string device;   // "cpu", "cuda:0"
  MambaConfig config;
  int64_t parameters = 0;
};

// What one forward pass captured: (layer, point) -> [batch, seqlen, channels] fp32, FP basis; plus logits
// [batch, seqlen, vocab] when asked for.
struct Captures {
  std::map<std::pair<int, CapturePoint>, HostTensor> tensors;
  HostTensor logits;
};

class ResidentModel {
 public:
  // Loads the checkpoint in `dir` onto `device` ("cpu", "cuda", "cuda:N"). Throws Error naming what failed.
  static std::unique_ptr<ResidentModel> Load(const std::string& dir, const std::string& device);
  // The embedded default model's folder.
  static std::string EmbeddedModelDir();
  // Whether this build can run on `device` ("cuda" needs a CUDA build and a visible GPU).
  static bool DeviceAvailable(const std::string& device);

  ~ResidentModel();
  ResidentModel(const ResidentModel&) = delete;
  ResidentModel& operator=(const ResidentModel&) = delete;

  const ModelInfo& info() const;

  // One forward pass of `mode` over `samples` (equal lengths), keeping the requested captures.
  Captures Run(const ModeSpec& mode, const std::vector<std::vector<int32_t>>& samples,
               const std::vector<int>& layers, const std::vector<CapturePoint>& points,
               bool keep_logits) const;

  // Runs the reference and every mode over the same batches and streams metrics rows. The request must be
  // valid (the service validates); violations throw Error(kInvalidArgument). Safe to call from several threads.
  void Compare(const CompareRequest& request, CompareObserver& observer) const;

 private:
  struct Impl;
  explicit ResidentModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace layerscope
