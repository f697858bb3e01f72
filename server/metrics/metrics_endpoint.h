// MetricsEndpoint: a minimal HTTP/1.0 listener for Prometheus scrapes, apart from the gRPC port so that a scraper
// needs neither gRPC nor a token (it shows counts and times, no job contents; bind it where only the scraper can
// reach it). One thread serves one connection at a time: GET /metrics answers the text `render` returns, other
// paths 404 and other methods 405. A client that sends nothing is dropped after a short timeout, so it cannot hold
// the endpoint.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace layerscope::server {

class MetricsEndpoint {
 public:
  // Binds `listen` (HOST:PORT; port 0 picks a free one) and starts serving. Throws Error(kInvalidArgument) naming
  // the address when it cannot be resolved or bound.
  MetricsEndpoint(const std::string& listen, std::function<std::string()> render);
  // Stops the thread and closes the socket.
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  int port() const { return port_; }

 private:
  void Serve();
  void Answer(int connection);

  std::function<std::string()> render_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: writing to it wakes the thread to stop
  int port_ = 0;
  std::thread thread_;
};

}  // namespace layerscope::server
