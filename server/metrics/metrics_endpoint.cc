#include "server/metrics/metrics_endpoint.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/util/error.h"

namespace layerscope::server {
namespace {

// Bounds on one request: its head must arrive within this time and fit this size.
constexpr int kReadTimeoutSeconds = 2;
constexpr size_t kMaxRequestHead = 8192;

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the scraper went away; nothing to tell it
    done += static_cast<size_t>(n);
  }
}

std::string Response(const std::string& status, const std::string& content_type, const std::string& body) {
  return "HTTP/1.0 " + status + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(const std::string& listen, std::function<std::string()> render)
    : render_(std::move(render)) {
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  const std::string port = colon == std::string::npos ? "" : listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &addresses);
  if (rc != 0) {
    throw Error(ErrorKind::kInvalidArgument, "--metrics-listen " + listen + ": " + gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* address = addresses; address != nullptr && listen_fd_ < 0; address = address->ai_next) {
    const int fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, address->ai_addr, address->ai_addrlen) == 0 && ::listen(fd, 16) == 0) {
      listen_fd_ = fd;
    } else {
      why = std::strerror(errno);
      close(fd);
    }
  }
  freeaddrinfo(addresses);
  if (listen_fd_ < 0) throw Error(ErrorKind::kInvalidArgument, "--metrics-listen " + listen + ": " + why);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  char service[16];
  getnameinfo(reinterpret_cast<sockaddr*>(&bound), length, nullptr, 0, service, sizeof(service), NI_NUMERICSERV);
  port_ = std::atoi(service);
  if (pipe2(wake_fds_, O_CLOEXEC) != 0) {
    close(listen_fd_);
    throw Error(ErrorKind::kInternal, std::string("metrics endpoint: pipe: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { Serve(); });
}

MetricsEndpoint::~MetricsEndpoint() {
  const char stop = 's';
  if (write(wake_fds_[1], &stop, 1) < 0) {
    // The pipe is ours and empty: a failed write leaves nothing better to do than to wait for the thread anyway.
  }
  thread_.join();
  close(listen_fd_);
  close(wake_fds_[0]);
  close(wake_fds_[1]);
}

void MetricsEndpoint::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    Answer(connection);
    close(connection);
  }
}

void MetricsEndpoint::Answer(int connection) {
  timeval timeout{kReadTimeoutSeconds, 0};
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    if (head.size() > kMaxRequestHead) {
      WriteAll(connection, Response("431 Request Header Fields Too Large", "text/plain", "request head too large\n"));
      return;
    }
    const ssize_t n = recv(connection, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // timed out or closed before a whole request head
    head.append(buffer, static_cast<size_t>(n));
  }
  const std::string line = head.substr(0, head.find_first_of("\r\n"));
  const size_t method_end = line.find(' ');
  const size_t path_end = method_end == std::string::npos ? std::string::npos : line.find(' ', method_end + 1);
  const std::string method = line.substr(0, method_end);
  const std::string path =
      method_end == std::string::npos ? "" : line.substr(method_end + 1, path_end - method_end - 1);
  if (method != "GET") {
    WriteAll(connection, Response("405 Method Not Allowed", "text/plain", "only GET /metrics is served\n"));
  } else if (path != "/metrics") {
    WriteAll(connection, Response("404 Not Found", "text/plain", "only GET /metrics is served\n"));
  } else {
    std::string body;
    try {
      body = render_();
    } catch (const std::exception& error) {
      WriteAll(connection, Response("500 Internal Server Error", "text/plain", std::string(error.what()) + "\n"));
      return;
    }
    WriteAll(connection, Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body));
  }
}

}  // namespace layerscope::server
