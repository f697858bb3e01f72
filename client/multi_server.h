// Several servers for one comparison (issue 8, Deployment): `--server A,B,...` spreads the modes of `compare` and
// `compare-all` across servers that hold the same model and merges their results into the one CompareResult a
// single server would have sent, so every report prints exactly as it would with one server.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/compare_result.h"
#include "client/connection.h"
#include "layerscope/v1/layerscope.pb.h"

namespace layerscope::client {

// The addresses of a --server (or $LAYERSCOPE_SERVER) value: comma-separated HOST:PORTs, blanks around each
// trimmed. Throws ClientError (kExitUsage) for an empty entry or an address named twice.
std::vector<std::string> SplitServerList(const std::string& value);

class ServerPool {
 public:
  // Connects to every address in turn; a server that cannot be reached throws as Connection does, naming it.
  ServerPool(const std::vector<std::string>& addresses, std::optional<std::chrono::milliseconds> call_timeout,
             const Credentials& credentials);

  // The first server: the one that answers the listings (compare-all's modes) for all of them.
  Connection& first() { return *connections_.front(); }

  // With several servers: throws ClientError (kExitUsage) naming every server unless all hold the same `model` (empty:
  // each server's default) by name, dimensions and parameter count; the comparison would otherwise mix different
  // models' rows.
  void CheckSameModel(const std::string& model);

  // With one server: RunComparison. With several: runs `request` with its modes dealt round-robin in request order to
  // the servers, one thread per server, each server getting the request restricted to its modes; the progress bar shows
  // the steps of all of them summed. Any server's failure fails the whole comparison, its error prefixed by the
  // server's address.
  CompareResult Compare(const v1::CompareRequest& request);

 private:
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace layerscope::client
