#include "server/service/model_registry.h"

#include "core/util/error.h"

namespace layerscope::server {

void ModelRegistry::Add(std::vector<std::unique_ptr<ResidentModel>> replicas, ModelEntry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (replicas.empty() || (!models_.empty() && replicas.size() != models_.front().size())) {
    throw Error(ErrorKind::kInternal, "model \"" + entry.info.name + "\": " + std::to_string(replicas.size()) +
                                          " replicas, not one per device");
  }
  entries_.push_back(std::move(entry));
  models_.push_back(std::move(replicas));
}

void ModelRegistry::MarkReady() {
  std::lock_guard<std::mutex> lock(mutex_);
  ready_ = true;
  ready_changed_.notify_all();
}

bool ModelRegistry::WaitReady(const std::function<bool()>& cancelled, std::chrono::milliseconds poll) const {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!ready_) {
    if (cancelled()) return false;
    ready_changed_.wait_for(lock, poll);
  }
  return true;
}

void ModelRegistry::WakeAll() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ready_changed_.notify_all();
}

const ResidentModel& ModelRegistry::model(const ModelEntry& entry, int device) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (&entries_[i] == &entry) return *models_[i].at(device);
  }
  throw Error(ErrorKind::kInternal, "model \"" + entry.info.name + "\" is not in the registry");
}

}  // namespace layerscope::server
