#include "client/multi_server.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "client/commands.h"
#include "client/errors.h"
#include "client/progress_bar.h"

namespace layerscope::client {
namespace {

std::string Trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

// What must match for two servers' rows to belong in one report; empty when the server lacks the model (the
// server then names the model in its own error).
std::string DescribeModel(const v1::ListModelsResponse& models, const std::string& name) {
  for (const v1::ModelInfo& m : models.models()) {
    if (name.empty() ? !m.is_default() : m.name() != name) continue;
    return m.name() + " (n_layer " + std::to_string(m.n_layer()) + ", d_model " + std::to_string(m.d_model()) +
           ", d_inner " + std::to_string(m.d_inner()) + ", d_state " + std::to_string(m.d_state()) + ", d_conv " +
           std::to_string(m.d_conv()) + ", dt_rank " + std::to_string(m.dt_rank()) + ", vocab " +
           std::to_string(m.vocab_size()) + ", " + std::to_string(m.parameters()) + " parameters)";
  }
  return "no such model";
}

// What every part of one comparison must agree on: everything but its own modes, rows, device and time.
std::string SharedFields(v1::CompareSummary summary) {
  summary.clear_modes();
  summary.clear_rows();
  summary.clear_device();
  summary.clear_server_seconds();
  summary.clear_stages();
  return summary.SerializeAsString();
}

// The summary a single server would have sent: the parts' shared fields, the modes back in request order (dealt
// round-robin), rows summed, the wall time of the slowest server (they ran at once), each stage's time summed over
// the servers (in the order stages first appear), and the distinct devices in server order, joined by ','.
v1::CompareSummary MergeSummaries(const std::vector<v1::CompareSummary>& parts, int modes) {
  v1::CompareSummary merged = parts.front();
  merged.clear_modes();
  for (int i = 0; i < modes; ++i) *merged.add_modes() = parts[i % parts.size()].modes(i / parts.size());
  std::vector<std::string> devices;
  int64_t rows = 0;
  double seconds = 0;
  merged.clear_stages();
  for (const v1::CompareSummary& part : parts) {
    rows += part.rows();
    seconds = std::max(seconds, part.server_seconds());
    for (const v1::StageTime& stage : part.stages()) {
      auto same = std::find_if(merged.mutable_stages()->begin(), merged.mutable_stages()->end(),
                               [&](const v1::StageTime& t) { return t.stage() == stage.stage(); });
      if (same == merged.mutable_stages()->end()) {
        *merged.add_stages() = stage;
      } else {
        same->set_seconds(same->seconds() + stage.seconds());
      }
    }
    if (std::find(devices.begin(), devices.end(), part.device()) == devices.end()) devices.push_back(part.device());
  }
  std::string device;
  for (const std::string& d : devices) device += (device.empty() ? "" : ",") + d;
  merged.set_rows(rows);
  merged.set_server_seconds(seconds);
  merged.set_device(device);
  return merged;
}

}  // namespace

std::vector<std::string> SplitServerList(const std::string& value) {
  std::vector<std::string> addresses;
  for (size_t at = 0; at <= value.size();) {
    const size_t end = std::min(value.find(',', at), value.size());
    const std::string address = Trim(value.substr(at, end - at));
    if (address.empty()) throw ClientError(kExitUsage, "--server '" + value + "': an empty address in the list");
    for (const std::string& seen : addresses) {
      if (seen == address) throw ClientError(kExitUsage, "--server '" + value + "': " + address + " named twice");
    }
    addresses.push_back(address);
    at = end + 1;
  }
  return addresses;
}

ServerPool::ServerPool(const std::vector<std::string>& addresses, std::optional<std::chrono::milliseconds> call_timeout,
                       const Credentials& credentials)
    : addresses_(addresses) {
  for (const std::string& address : addresses_) {
    connections_.push_back(std::make_unique<Connection>(address, call_timeout, credentials));
  }
}

void ServerPool::CheckSameModel(const std::string& model) {
  if (connections_.size() == 1) return;
  std::vector<std::string> described;
  for (size_t i = 0; i < connections_.size(); ++i) {
    try {
      described.push_back(DescribeModel(connections_[i]->ListModels(), model));
    } catch (const ClientError& e) {
      throw ClientError(e.code(), addresses_[i] + ": " + e.what());
    }
  }
  bool same = true;
  for (const std::string& d : described) same &= d == described.front();
  if (same) return;
  std::string list;
  for (size_t i = 0; i < described.size(); ++i) list += (i == 0 ? "" : "; ") + addresses_[i] + ": " + described[i];
  throw ClientError(kExitUsage, "the servers hold different models (" + list + ")");
}

CompareResult ServerPool::Compare(const v1::CompareRequest& request) {
  if (connections_.size() == 1) return RunComparison(first(), request);
  // Servers beyond the number of modes would get nothing to run.
  const size_t used = std::min<size_t>(connections_.size(), request.modes_size());
  std::vector<v1::CompareRequest> parts(used, request);
  for (v1::CompareRequest& part : parts) part.clear_modes();
  for (int i = 0; i < request.modes_size(); ++i) *parts[i % used].add_modes() = request.modes(i);

  ProgressBar progress(stderr, isatty(fileno(stderr)) == 1);
  std::mutex mu;  // guards progress, latest and the slots below
  std::vector<v1::Progress> latest(used);
  std::vector<std::optional<CompareResult>> results(used);
  std::vector<std::optional<ClientError>> errors(used);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < used; ++i) {
    threads.emplace_back([&, i] {
      auto on_progress = [&, i](const v1::Progress& event) {
        std::lock_guard<std::mutex> lock(mu);
        latest[i] = event;
        v1::Progress sum;
        for (const v1::Progress& p : latest) {
          sum.set_steps_done(sum.steps_done() + p.steps_done());
          sum.set_steps_total(sum.steps_total() + p.steps_total());
        }
        sum.set_stage(addresses_[i] + " " + event.stage());
        progress.Update(sum);
      };
      try {
        CompareResult result = connections_[i]->Compare(parts[i], on_progress);
        std::lock_guard<std::mutex> lock(mu);
        results[i] = std::move(result);
      } catch (const ClientError& e) {
        std::lock_guard<std::mutex> lock(mu);
        errors[i] = ClientError(e.code(), addresses_[i] + ": " + e.what());
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        errors[i] = ClientError(kExitFailure, addresses_[i] + ": " + e.what());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  progress.Clear();
  for (const std::optional<ClientError>& error : errors) {
    if (error) throw *error;
  }

  std::vector<v1::CompareSummary> summaries;
  std::vector<v1::MetricsRow> rows;
  for (size_t i = 0; i < used; ++i) {
    const v1::CompareSummary& summary = results[i]->summary();
    // A server of the same model answers the same layers, points and sizes; one that does not (another
    // version's defaults) would make the merged report wrong, not merely different.
    if (summary.modes_size() != parts[i].modes_size() ||
        SharedFields(summary) != SharedFields(summaries.empty() ? summary : summaries.front())) {
      throw ClientError(kExitFailure, addresses_[i] + ": compare: its summary does not match " + addresses_[0] +
                                          "'s (modes, layers, points or sizes); the results cannot be merged");
    }
    summaries.push_back(summary);
    const std::vector<v1::MetricsRow>& part_rows = results[i]->rows();
    rows.insert(rows.end(), part_rows.begin(), part_rows.end());
  }
  return CompareResult(MergeSummaries(summaries, request.modes_size()), std::move(rows));
}

}  // namespace layerscope::client
