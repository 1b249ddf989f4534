#pragma once

// A raw client connection to an HTTP server (unix socket or TCP 127.0.0.1), for what
// libcurl will not do: hold thousands of idle connections, send half a request line,
// read one answer with a bound. Also the process facts the scale tests watch.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace overmesh::testing {

class RawSocket {
 public:
  // Connects to the unix socket at `path`; connected() says whether it worked.
  static RawSocket connectUnix(const std::string& path) {
    RawSocket socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    socket.connected_ =
        socket.fd_ >= 0 &&
        ::connect(socket.fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    return socket;
  }
  // Connects to 127.0.0.1:`port`.
  static RawSocket connectTcp(std::uint16_t port) {
    RawSocket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socket.connected_ =
        socket.fd_ >= 0 &&
        ::connect(socket.fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    return socket;
  }

  RawSocket(RawSocket&& other) noexcept : fd_(other.fd_), connected_(other.connected_) {
    other.fd_ = -1;
  }
  RawSocket& operator=(RawSocket&& other) noexcept {
    if (this != &other) {
      closeFd();
      fd_ = other.fd_;
      connected_ = other.connected_;
      other.fd_ = -1;
    }
    return *this;
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket() { closeFd(); }

  bool connected() const { return connected_; }

  // Sends all of `data`; false once a send fails.
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // Says the request is over (shutdown(SHUT_WR)), as some HTTP clients do; the
  // connection still reads.
  bool shutdownWrite() { return ::shutdown(fd_, SHUT_WR) == 0; }

  // Reads until one whole answer (head and a Content-Length body) is in, the server
  // closes, or `bound` passes. Returns what was read.
  std::string readAnswer(std::chrono::milliseconds bound) {
    std::string all;
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (!answerComplete(all)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      pollfd readable{fd_, POLLIN, 0};
      if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
        break;
      }
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      all.append(buffer, static_cast<std::size_t>(n));
    }
    return all;
  }

  // True when the server closed the connection (EOF) within `bound`, reading and
  // dropping whatever came before.
  bool closedWithin(std::chrono::milliseconds bound) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd readable{fd_, POLLIN, 0};
      if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) {
        return false;
      }
      char buffer[4096];
      if (::recv(fd_, buffer, sizeof(buffer), 0) <= 0) {
        return true;
      }
    }
  }

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  void closeFd() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  static bool answerComplete(const std::string& all) {
    std::size_t headEnd = all.find("\r\n\r\n");
    if (headEnd == std::string::npos) {
      return false;
    }
    std::string head = all.substr(0, headEnd);
    for (char& c : head) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::size_t length = head.find("content-length:");
    if (length == std::string::npos) {
      return true;
    }
    std::size_t bodyLength = std::stoul(head.substr(length + 15));
    return all.size() >= headEnd + 4 + bodyLength;
  }

  int fd_ = -1;
  bool connected_ = false;
};

// Threads of process `pid` ("self" for this one): entries of /proc/PID/task.
inline std::size_t threadsOf(const std::string& pid = "self") {
  std::size_t count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + pid + "/task", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

// Resident memory of process `pid` in KiB (VmRSS of /proc/PID/status), 0 if unknown.
inline std::size_t residentKibOf(const std::string& pid = "self") {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoul(line.substr(6));
    }
  }
  return 0;
}

// Raises this process's descriptor soft limit to its hard limit; returns the soft limit
// now in force.
inline rlim_t raiseDescriptorSoftLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace overmesh::testing
