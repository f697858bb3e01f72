// ModelRegistry: the models this server serves, each resident on every device of the server (--device): one
// ResidentModel per device per model, device d's at index d. The server starts answering before its model is loaded
// (health reports NOT_SERVING meanwhile); RPCs that need a model wait here until loading is done, so a client that
// calls as soon as the port is printed is answered once the model is ready rather than refused.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/compare/resident_model.h"
#include "server/service/model_entry.h"

namespace layerscope::server {

class ModelRegistry {
 public:
  // Adds a loaded model, `replicas[d]` resident on device d (as many as every other model has); call before
  // MarkReady().
  void Add(std::vector<std::unique_ptr<ResidentModel>> replicas, ModelEntry entry);
  // Every model is loaded: from now on entries() and model() may be read from any thread without locking.
  void MarkReady();

  // Waits until MarkReady() or until cancelled() turns true (polled every `poll`); returns whether ready.
  bool WaitReady(const std::function<bool()>& cancelled,
                 std::chrono::milliseconds poll = std::chrono::milliseconds(50)) const;
  bool ready() const { return ready_.load(); }
  // Wakes every waiter so it polls cancelled() now (at shutdown).
  void WakeAll() const;

  // Only once ready.
  const std::vector<ModelEntry>& entries() const { return entries_; }
  // The model of `entry` on device `device` (0 when the caller needs one and any will do).
  const ResidentModel& model(const ModelEntry& entry, int device = 0) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable ready_changed_;
  std::atomic<bool> ready_{false};
  std::vector<ModelEntry> entries_;
  std::vector<std::vector<std::unique_ptr<ResidentModel>>> models_;  // models_[i][d] serves entries_[i] on device d
};

}  // namespace layerscope::server
