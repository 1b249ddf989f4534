// service_probe: what a client task sees of services, timed, for bench/service_convergence.
// It runs INSIDE a client task (started with `overmesh exec CLIENT -- service_probe ...`),
// so names resolve through the task's own /etc/resolv.conf (the embedded DNS at
// 127.0.0.11) and connections go through the task's own VIP load balancer.
//
//   service_probe up OUT NAME...
//       For each NAME in turn (the bench creates the services in that order): resolve it
//       (getaddrinfo, IPv4) until it answers, then connect to its first address on the port
//       and read the reply, until both succeeded; then append "NAME <ms> <address> <reply>".
//   service_probe watch OUT NAME COUNT GONE[,GONE...]
//       Polls NAME (e.g. tasks.web) and, with --nft, the sandbox's load-balancer table
//       (`nft list table ip overmesh_lb`, read only), and appends the first time that
//       "dns-gone <ms>":   none of the GONE addresses is in NAME's answer;
//       "lb-gone <ms>":    none of them is in the table (--nft only);
//       "answering <ms>":  NAME has COUNT addresses, none GONE, and each of them accepts a
//                          connection on the port and replies.
//       It first waits until the answer (and with --nft the table) holds every GONE address
//       and appends "ready <ms>".
//
// Both modes append "start <ms>" first and "timeout <ms> WHAT" if --deadline-s passes (exit
// status 1). <ms> is CLOCK_REALTIME in milliseconds since the epoch, so the bench, in
// another namespace of the same machine, subtracts its own timestamps. OUT is a file on the
// host's filesystem (a task's mount namespace is a slave of the host's); each line is one
// write(2) to it with O_APPEND, so the bench can read it while the probe runs.
//
// Options (before the mode): --port P (80), --connect-timeout-ms T (100), --deadline-s S
// (120), --interval-ms I (5, the pause between two polls), --nft.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct ProbeOptions {
  int port = 80;
  int connectTimeoutMs = 100;
  int deadlineS = 120;
  int intervalMs = 5;
  bool nft = false;
};

long long realtimeMs() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

// Appends lines to the output file, each in one write so that a reader never sees half.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path)
      : fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {}
  ~OutputFile() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  void line(const std::string& text) {
    std::string withNewline = text + "\n";
    if (write(fd_, withNewline.data(), withNewline.size()) < 0) {
      std::perror("service_probe: write");
    }
  }

 private:
  int fd_;
};

// The IPv4 addresses `name` resolves to, deduplicated; empty when it does not resolve.
std::set<std::string> resolve(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::set<std::string> out;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0) {
    return out;
  }
  for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    char text[INET_ADDRSTRLEN] = {};
    auto* address = reinterpret_cast<sockaddr_in*>(entry->ai_addr);
    if (inet_ntop(AF_INET, &address->sin_addr, text, sizeof text) != nullptr) {
      out.insert(text);
    }
  }
  freeaddrinfo(found);
  return out;
}

// Connects to address:port within the connect timeout and reads the reply (up to its first
// newline or EOF, within 1 s). Returns the reply; empty when anything failed.
std::string connectAndRead(const std::string& address, const ProbeOptions& options) {
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(options.port));
  if (inet_pton(AF_INET, address.c_str(), &target.sin_addr) != 1) {
    return "";
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return "";
  }
  std::string reply;
  auto* generic = reinterpret_cast<sockaddr*>(&target);
  if (connect(fd, generic, sizeof target) == 0 || errno == EINPROGRESS) {
    pollfd writable{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (poll(&writable, 1, options.connectTimeoutMs) == 1 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0) {
      long long until = realtimeMs() + 1000;
      char buffer[256];
      while (reply.find('\n') == std::string::npos) {
        long long left = until - realtimeMs();
        pollfd readable{fd, POLLIN, 0};
        if (left <= 0 || poll(&readable, 1, static_cast<int>(left)) != 1) {
          break;
        }
        ssize_t got = read(fd, buffer, sizeof buffer);
        if (got <= 0) {
          break;
        }
        reply.append(buffer, static_cast<std::size_t>(got));
      }
    }
  }
  close(fd);
  reply.erase(std::remove(reply.begin(), reply.end(), '\n'), reply.end());
  return reply;
}

// The IPv4 addresses in the sandbox's load-balancer table: every maximal run of digits and
// dots in `nft list table ip overmesh_lb`. Observation only (nft is never used to change
// anything here). Empty when the table or nft is missing.
std::set<std::string> lbAddresses() {
  std::set<std::string> out;
  FILE* pipe = popen("/usr/sbin/nft list table ip overmesh_lb 2>/dev/null", "r");
  if (pipe == nullptr) {
    return out;
  }
  std::string text;
  char buffer[4096];
  for (std::size_t got; (got = fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
    text.append(buffer, got);
  }
  pclose(pipe);
  std::string token;
  for (char c : text + " ") {
    if ((c >= '0' && c <= '9') || c == '.') {
      token += c;
    } else {
      if (std::count(token.begin(), token.end(), '.') == 3) {
        out.insert(token);
      }
      token.clear();
    }
  }
  return out;
}

bool containsAny(const std::set<std::string>& set, const std::vector<std::string>& wanted) {
  return std::any_of(wanted.begin(), wanted.end(),
                     [&](const std::string& one) { return set.contains(one); });
}

void pause(const ProbeOptions& options) {
  std::this_thread::sleep_for(std::chrono::milliseconds(options.intervalMs));
}

int probeUp(OutputFile& out, const std::vector<std::string>& names, const ProbeOptions& options) {
  long long deadline = realtimeMs() + options.deadlineS * 1000LL;
  for (const auto& name : names) {
    while (true) {
      if (realtimeMs() > deadline) {
        out.line("timeout " + std::to_string(realtimeMs()) + " " + name);
        return 1;
      }
      auto addresses = resolve(name);
      if (!addresses.empty()) {
        const std::string& address = *addresses.begin();
        std::string reply = connectAndRead(address, options);
        if (!reply.empty()) {
          out.line(name + " " + std::to_string(realtimeMs()) + " " + address + " " + reply);
          break;
        }
      }
      pause(options);
    }
  }
  return 0;
}

int probeWatch(OutputFile& out, const std::string& name, std::size_t count,
               const std::vector<std::string>& gone, const ProbeOptions& options) {
  long long deadline = realtimeMs() + options.deadlineS * 1000LL;
  // The baseline: every GONE address answered by DNS and, with --nft, in the LB table, so
  // that what follows the kill is a removal and not a late first programming.
  auto holdsEveryGone = [&] {
    auto holds = [&](const std::set<std::string>& addresses) {
      return std::all_of(gone.begin(), gone.end(),
                         [&](const std::string& one) { return addresses.contains(one); });
    };
    return holds(resolve(name)) && (!options.nft || holds(lbAddresses()));
  };
  while (!holdsEveryGone()) {
    if (realtimeMs() > deadline) {
      out.line("timeout " + std::to_string(realtimeMs()) + " baseline");
      return 1;
    }
    pause(options);
  }
  out.line("ready " + std::to_string(realtimeMs()));
  bool dnsGone = false;
  bool lbGone = !options.nft;
  bool answering = false;
  while (!(dnsGone && lbGone && answering)) {
    if (realtimeMs() > deadline) {
      out.line("timeout " + std::to_string(realtimeMs()) + (dnsGone ? "" : " dns-gone") +
               (lbGone ? "" : " lb-gone") + (answering ? "" : " answering"));
      return 1;
    }
    auto addresses = resolve(name);
    bool noneGone = !addresses.empty() && !containsAny(addresses, gone);
    if (!dnsGone && noneGone) {
      dnsGone = true;
      out.line("dns-gone " + std::to_string(realtimeMs()));
    }
    if (!lbGone && !containsAny(lbAddresses(), gone)) {
      lbGone = true;
      out.line("lb-gone " + std::to_string(realtimeMs()));
    }
    if (!answering && noneGone && addresses.size() == count &&
        std::all_of(addresses.begin(), addresses.end(), [&](const std::string& address) {
          return !connectAndRead(address, options).empty();
        })) {
      answering = true;
      out.line("answering " + std::to_string(realtimeMs()));
    }
    pause(options);
  }
  return 0;
}

std::vector<std::string> splitCommas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) {
    if (!part.empty()) {
      out.push_back(part);
    }
  }
  return out;
}

int usage(const char* self) {
  std::fprintf(stderr,
               "usage: %s [--port P] [--connect-timeout-ms T] [--deadline-s S] [--interval-ms I]"
               " [--nft]\n"
               "         up OUT NAME...  |  watch OUT NAME COUNT GONE[,GONE...]\n",
               self);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  ProbeOptions options;
  int i = 1;
  for (; i < argc && std::string(argv[i]).starts_with("--"); ++i) {
    std::string flag = argv[i];
    if (flag == "--nft") {
      options.nft = true;
      continue;
    }
    if (i + 1 >= argc) {
      return usage(argv[0]);
    }
    int value = std::atoi(argv[++i]);
    if (value <= 0) {
      std::fprintf(stderr, "%s must be a positive number, not \"%s\"\n", flag.c_str(), argv[i]);
      return 2;
    }
    if (flag == "--port") {
      options.port = value;
    } else if (flag == "--connect-timeout-ms") {
      options.connectTimeoutMs = value;
    } else if (flag == "--deadline-s") {
      options.deadlineS = value;
    } else if (flag == "--interval-ms") {
      options.intervalMs = value;
    } else {
      return usage(argv[0]);
    }
  }
  if (argc - i < 3) {
    return usage(argv[0]);
  }
  std::string mode = argv[i];
  OutputFile out(argv[i + 1]);
  if (!out.ok()) {
    std::perror(argv[i + 1]);
    return 2;
  }
  out.line("start " + std::to_string(realtimeMs()));
  if (mode == "up") {
    return probeUp(out, std::vector<std::string>(argv + i + 2, argv + argc), options);
  }
  if (mode == "watch" && argc - i == 5) {
    long count = std::atol(argv[i + 3]);
    auto gone = splitCommas(argv[i + 4]);
    if (count <= 0 || gone.empty()) {
      std::fprintf(stderr, "watch: COUNT must be positive and GONE list at least one address\n");
      return 2;
    }
    return probeWatch(out, argv[i + 2], static_cast<std::size_t>(count), gone, options);
  }
  return usage(argv[0]);
}
