// ModelRegistry: the models this server serves. The server starts answering before its model is loaded (health
// reports NOT_SERVING meanwhile); RPCs that need a model wait here until loading is done, so a client that calls
// as soon as the port is printed is answered once the model is ready rather than refused.
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
  // Adds a loaded model; call before MarkReady().
  void Add(std::unique_ptr<ResidentModel> model, ModelEntry entry);
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
  const ResidentModel& model(const ModelEntry& entry) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable ready_changed_;
  std::atomic<bool> ready_{false};
  std::vector<ModelEntry> entries_;
  std::vector<std::unique_ptr<ResidentModel>> models_;  // models_[i] serves entries_[i]
};

}  // namespace layerscope::server
