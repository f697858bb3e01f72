#include "server/service/capture_service.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "client/save_digest.h"
#include "core/util/error.h"
#include "server/service/model_call.h"
#include "server/service/request_validator.h"
#include "server/service/status.h"

namespace layerscope::server {
namespace {

using Clock = std::chrono::steady_clock;

// The dtype of the resident FP weights, which every capture is expressed in the basis of.
constexpr char kModelDtype[] = "float32";

std::string SavedPath(const std::string& mode, int layer, CapturePoint point) {
  return "layer_outputs/mode_" + mode + "_layer_" + std::to_string(layer) + "_" + CapturePointName(point) + ".npy";
}

v1::SavePlan MakePlan(const ValidatedCompare& save) {
  v1::SavePlan plan;
  const MambaConfig& config = save.model->info.config;
  plan.set_model(save.model->info.name);
  plan.set_model_dtype(kModelDtype);
  for (const ModeSpec& mode : save.request.modes) plan.add_modes(mode.name);
  for (int layer : save.request.layers) plan.add_layers(layer);
  for (CapturePoint point : save.request.points) plan.add_points(CapturePointName(point));
  plan.set_samples(save.samples);
  plan.set_seq_len(save.seq_len);
  plan.set_batch_size(save.request.batch_size);
  int64_t total = 0;
  for (const ModeSpec& mode : save.request.modes) {
    for (int layer : save.request.layers) {
      for (CapturePoint point : save.request.points) {
        v1::SavedFile* file = plan.add_files();
        file->set_path(SavedPath(mode.name, layer, point));
        file->set_mode(mode.name);
        file->set_layer(layer);
        file->set_point(CapturePointName(point));
        file->add_shape(save.samples);
        file->add_shape(save.seq_len);
        file->add_shape(CaptureChannels(point, config));
        file->set_dtype("float32");
        file->set_data_bytes(int64_t{4} * save.samples * save.seq_len * CaptureChannels(point, config));
        total += file->data_bytes();
      }
    }
  }
  plan.set_total_bytes(total);
  return plan;
}

// What one file of the mode being saved has had sent so far.
struct FileStream {
  const v1::SavedFile* file = nullptr;
  int64_t sent = 0;
  Sha256 digest;
};

}  // namespace

CaptureService::CaptureService(const ServerLimits& limits, std::string data_root, const ModelRegistry* models,
                               ModelSlots* slots, RpcMetrics* rpc_metrics, const Authenticator* authenticator)
    : state_(limits, std::move(data_root), models, slots, rpc_metrics, authenticator) {}

void CaptureService::BeginShutdown() { state_.BeginShutdown(); }

grpc::Status CaptureService::Plan(grpc::ServerContext* context, const v1::SaveRequest* request,
                                  v1::SavePlan* response) {
  return ServeModelCall(state_.frame, "Plan", context, [&](std::string* detail) {
    const RequestValidator validator(state_.models->entries(), state_.limits, state_.data_root);
    *response = MakePlan(validator.ValidateSave(*request));
    *detail = "files=" + std::to_string(response->files_size()) + " bytes=" + std::to_string(response->total_bytes());
  });
}

grpc::Status CaptureService::Save(grpc::ServerContext* context, const v1::SaveRequest* request,
                                  grpc::ServerWriter<v1::SaveChunk>* writer) {
  const auto start = Clock::now();
  return ServeModelCall(state_.frame, "Save", context, [&](std::string* detail) {
    const RequestValidator validator(state_.models->entries(), state_.limits, state_.data_root);
    const ValidatedCompare save = validator.ValidateSave(*request);
    const v1::SavePlan plan = MakePlan(save);
    *detail = "model=" + plan.model() + " files=" + std::to_string(plan.files_size()) +
              " bytes=" + std::to_string(plan.total_bytes()) + " data=" + save.data;
    const ModelSlots::Lease slot = state_.slots->Acquire([&] { return state_.stop.Stopping(context); });
    const ResidentModel& model = state_.models->model(*save.model, slot.device());
    const std::vector<std::vector<int32_t>>& samples = save.request.samples;
    const size_t batch = static_cast<size_t>(save.request.batch_size);
    const int64_t batches = static_cast<int64_t>((samples.size() + batch - 1) / batch);
    const int64_t files_per_mode = static_cast<int64_t>(save.request.layers.size() * save.request.points.size());
    v1::SaveChunk chunk;
    auto send = [&] {
      if (!writer->Write(chunk)) throw Error(ErrorKind::kCancelled, "the caller went away");
      chunk.Clear();
    };
    for (size_t m = 0; m < save.request.modes.size(); ++m) {
      const ModeSpec& mode = save.request.modes[m];
      // The files of this mode, by (layer, point); their order in the plan is the order they are sent in.
      std::map<std::pair<int, CapturePoint>, FileStream> files;
      int64_t index = static_cast<int64_t>(m) * files_per_mode;
      for (int layer : save.request.layers) {
        for (CapturePoint point : save.request.points) {
          files[{layer, point}].file = &plan.files(static_cast<int>(index++));
        }
      }
      for (int64_t i = static_cast<int64_t>(m) * files_per_mode; i < index; ++i) {
        *chunk.mutable_begin()->mutable_file() = plan.files(static_cast<int>(i));
        send();
      }
      for (int64_t b = 0; b < batches; ++b) {
        if (state_.stop.Stopping(context)) throw Error(ErrorKind::kCancelled, "save stopped");
        const size_t first = static_cast<size_t>(b) * batch, last = std::min(samples.size(), first + batch);
        const std::vector<std::vector<int32_t>> batch_samples(samples.begin() + first, samples.begin() + last);
        const Captures captures =
            model.Run(mode, batch_samples, save.request.layers, save.request.points, /*keep_logits=*/false);
        v1::Progress* progress = chunk.mutable_progress();
        progress->set_steps_done(static_cast<int64_t>(m) * batches + b + 1);
        progress->set_steps_total(static_cast<int64_t>(save.request.modes.size()) * batches);
        progress->set_stage(mode.name + " batch " + std::to_string(b + 1) + "/" + std::to_string(batches));
        send();
        for (int layer : save.request.layers) {
          for (CapturePoint point : save.request.points) {
            FileStream& stream = files.at({layer, point});
            const HostTensor& tensor = captures.tensors.at({layer, point});
            const std::vector<int64_t> expected = {static_cast<int64_t>(last - first), stream.file->shape(1),
                                                   stream.file->shape(2)};
            if (tensor.dtype != DType::kF32 || tensor.shape != expected) {
              throw Error(ErrorKind::kInternal, stream.file->path() + ": captured " + DTypeName(tensor.dtype) + " " +
                                                    tensor.ShapeString() + ", planned F32 " + ShapeString(expected));
            }
            stream.digest.Update(tensor.bytes.data(), tensor.bytes.size());
            for (size_t at = 0; at < tensor.bytes.size(); at += kSaveChunkBytes) {
              const size_t size = std::min(kSaveChunkBytes, tensor.bytes.size() - at);
              v1::FileData* data = chunk.mutable_data();
              data->set_path(stream.file->path());
              data->set_offset(stream.sent);
              data->set_data(tensor.bytes.data() + at, size);
              stream.sent += static_cast<int64_t>(size);
              send();
            }
          }
        }
      }
      for (int64_t i = static_cast<int64_t>(m) * files_per_mode; i < index; ++i) {
        const v1::SavedFile& file = plan.files(static_cast<int>(i));
        FileStream& stream = files.at({file.layer(), *ParseCapturePoint(file.point())});
        v1::FileEnd* end = chunk.mutable_end();
        end->set_path(file.path());
        end->set_size(stream.sent);
        end->set_sha256(stream.digest.HexDigest());
        send();
      }
    }
    v1::SaveSummary* summary = chunk.mutable_summary();
    *summary->mutable_plan() = plan;
    summary->set_device(save.model->info.device);
    summary->set_server_seconds(std::chrono::duration<double>(Clock::now() - start).count());
    send();
  });
}

}  // namespace layerscope::server
