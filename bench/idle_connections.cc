// idle_connections: what 5,000 idle connections cost the HTTP server (issue 13). A child
// process runs an HttpServer on a unix socket and on TCP 127.0.0.1; this process measures
// request latency (p50, p99) on a kept connection and on a new connection, first with no
// other connection open, then with 5,000 idle ones held (half silent, half stopped in
// the middle of their request line), and prints them side by side with the ratio, with
// the server process's thread count and RSS. No root needed; nothing leaves 127.0.0.1.
//
// Usage: idle_connections [--idle N] [--requests N]

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "support/raw_socket.h"

namespace {

using overmesh::testing::RawSocket;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const std::string kRequest = "GET /v1/ok HTTP/1.1\r\nHost: bench\r\n\r\n";

struct Figures {
  double keptP50 = 0;  // microseconds
  double keptP99 = 0;
  double newP50 = 0;
  double newP99 = 0;
  std::size_t threads = 0;
  std::size_t rssKib = 0;
  int failures = 0;
};

double percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) {
    return 0;
  }
  std::sort(samples.begin(), samples.end());
  auto index = static_cast<std::size_t>(fraction * static_cast<double>(samples.size() - 1));
  return samples[index];
}

// Child: serves until its parent closes the pipe. Writes the TCP port to `ready`.
[[noreturn]] void serve(const std::string& socketPath, int ready, int done) {
  overmesh::api::HttpServer server;
  server.route("GET", "/v1/ok", [](const overmesh::api::HttpRequest&) {
    return overmesh::api::HttpResponse{200, "{\"ok\":true}"};
  });
  if (!server.listenUnix(socketPath, 0600)) {
    std::_Exit(1);
  }
  auto port = server.listenTcp("127.0.0.1", 0);
  if (!port) {
    std::_Exit(1);
  }
  std::uint16_t value = *port;
  if (write(ready, &value, sizeof(value)) != sizeof(value)) {
    std::_Exit(1);
  }
  char byte = 0;
  while (read(done, &byte, 1) > 0) {
  }
  server.stop();
  std::_Exit(0);
}

class Bench {
 public:
  Bench(std::string socketPath, std::uint16_t port, pid_t server)
      : socketPath_(std::move(socketPath)), port_(port), server_(std::to_string(server)) {}

  RawSocket connect(bool overUnix) const {
    return overUnix ? RawSocket::connectUnix(socketPath_) : RawSocket::connectTcp(port_);
  }

  Figures measure(bool overUnix, int requests) const {
    Figures figures;
    std::vector<double> kept;
    std::vector<double> fresh;
    RawSocket connection = connect(overUnix);
    for (int i = 0; i < requests; ++i) {
      auto start = Clock::now();
      bool ok = connection.send(kRequest) &&
                connection.readAnswer(10s).find("200 OK") != std::string::npos;
      kept.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      figures.failures += ok ? 0 : 1;
    }
    for (int i = 0; i < requests / 4; ++i) {
      auto start = Clock::now();
      RawSocket once = connect(overUnix);
      bool ok = once.connected() && once.send(kRequest) &&
                once.readAnswer(10s).find("200 OK") != std::string::npos;
      fresh.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      figures.failures += ok ? 0 : 1;
    }
    figures.keptP50 = percentile(kept, 0.50);
    figures.keptP99 = percentile(kept, 0.99);
    figures.newP50 = percentile(fresh, 0.50);
    figures.newP99 = percentile(fresh, 0.99);
    figures.threads = overmesh::testing::threadsOf(server_);
    figures.rssKib = overmesh::testing::residentKibOf(server_);
    return figures;
  }

  // Opens `count` connections that stay idle; returns how many connected.
  std::vector<RawSocket> holdIdle(bool overUnix, int count) const {
    std::vector<RawSocket> idle;
    idle.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      RawSocket socket = connect(overUnix);
      if (!socket.connected()) {
        break;
      }
      if (i % 2 == 0) {
        socket.send("GET /v1/o");
      }
      idle.push_back(std::move(socket));
    }
    // The server accepts them in its own time: a round trip on the last one shows they
    // are all in.
    if (!idle.empty()) {
      idle.back().send(kRequest);
      idle.back().readAnswer(30s);
    }
    return idle;
  }

 private:
  std::string socketPath_;
  std::uint16_t port_;
  std::string server_;
};

void print(const std::string& transport, int idleCount, int held, const Figures& quiet,
           const Figures& busy) {
  auto ratio = [](double a, double b) { return a > 0 ? b / a : 0.0; };
  fmt::print("\n{}: {} idle connections held ({} asked)\n", transport, held, idleCount);
  fmt::print("  {:<28} {:>12} {:>12} {:>8}\n", "", "0 idle", fmt::format("{} idle", held), "ratio");
  fmt::print("  {:<28} {:>9.0f} us {:>9.0f} us {:>8.2f}\n", "kept connection p50", quiet.keptP50,
             busy.keptP50, ratio(quiet.keptP50, busy.keptP50));
  fmt::print("  {:<28} {:>9.0f} us {:>9.0f} us {:>8.2f}\n", "kept connection p99", quiet.keptP99,
             busy.keptP99, ratio(quiet.keptP99, busy.keptP99));
  fmt::print("  {:<28} {:>9.0f} us {:>9.0f} us {:>8.2f}\n", "new connection p50", quiet.newP50,
             busy.newP50, ratio(quiet.newP50, busy.newP50));
  fmt::print("  {:<28} {:>9.0f} us {:>9.0f} us {:>8.2f}\n", "new connection p99", quiet.newP99,
             busy.newP99, ratio(quiet.newP99, busy.newP99));
  fmt::print("  {:<28} {:>12} {:>12}\n", "server threads", quiet.threads, busy.threads);
  fmt::print("  {:<28} {:>8} KiB {:>8} KiB\n", "server RSS", quiet.rssKib, busy.rssKib);
  if (quiet.failures + busy.failures > 0) {
    fmt::print("  failed requests: {} (0 idle), {} ({} idle)\n", quiet.failures, busy.failures,
               held);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int idleCount = 5000;
  int requests = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--idle") {
      idleCount = std::atoi(argv[i + 1]);
    } else if (flag == "--requests") {
      requests = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: idle_connections [--idle N] [--requests N]\n");
      return 2;
    }
  }
  if (idleCount < 0 || requests < 4) {
    std::fprintf(stderr, "idle_connections: --idle must be >= 0 and --requests >= 4\n");
    return 2;
  }
  rlim_t limit = overmesh::testing::raiseDescriptorSoftLimit();
  if (limit < static_cast<rlim_t>(idleCount) + 200) {
    std::fprintf(stderr,
                 "idle_connections: the descriptor limit (%lu) cannot hold %d connections\n",
                 static_cast<unsigned long>(limit), idleCount);
    return 1;
  }
  std::string dir = fmt::format("/tmp/idle-connections-{}", getpid());
  std::filesystem::create_directories(dir);
  std::string socketPath = dir + "/api.sock";
  int ready[2];
  int done[2];
  if (pipe(ready) != 0 || pipe(done) != 0) {
    std::perror("pipe");
    return 1;
  }
  // Forked before this process starts any thread.
  pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    close(done[1]);
    serve(socketPath, ready[1], done[0]);
  }
  close(ready[1]);
  close(done[0]);
  std::uint16_t port = 0;
  if (read(ready[0], &port, sizeof(port)) != sizeof(port)) {
    std::fprintf(stderr, "idle_connections: the server process did not start\n");
    waitpid(child, nullptr, 0);
    return 1;
  }
  fmt::print(
      "idle_connections: HttpServer in process {}, {} requests on a kept connection and "
      "{} on new ones per column\n",
      child, requests, requests / 4);
  Bench bench(socketPath, port, child);
  for (bool overUnix : {true, false}) {
    Figures quiet = bench.measure(overUnix, requests);
    std::vector<RawSocket> idle = bench.holdIdle(overUnix, idleCount);
    Figures busy = bench.measure(overUnix, requests);
    print(overUnix ? "unix socket" : "TCP 127.0.0.1", idleCount, static_cast<int>(idle.size()),
          quiet, busy);
  }
  close(done[1]);
  int status = 0;
  waitpid(child, &status, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
