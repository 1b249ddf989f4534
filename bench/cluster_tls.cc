// The cost of TLS on the control plane, in one process on 127.0.0.1: the same server
// routes over plain TCP (listenTcp) and over mutual TLS 1.3 (listenTls), driven by 20
// client threads that each hold their own certificate, as 20 workers would.
//
//   (a) fan-out: every client holds a watch-like long-poll (GET /watch?from=REV, answered
//       when the revision passes REV); the bench publishes a revision and measures until
//       all 20 clients have their answer. p50 / p99 / max over --rounds (200).
//   (b) heartbeat capacity: the 20 clients POST /heartbeat as fast as they can over their
//       keep-alive connections for --seconds (3); requests per second.
//   (c) connection cost: a new connection (with its handshake) and one request, one after
//       another, --connections (200) times; mean and p99 per connection.
//   (d) threads: the process's thread count (/proc/self/task) while every client holds
//       its long-poll (the clients' own threads included), the most seen over the rounds.
// Prints both transports side by side with the TLS/plain ratio. Never asserts.
//
// Run: scripts/build.sh release cluster_tls && build/release/bench/cluster_tls
//      [--clients 20] [--rounds 200] [--seconds 3] [--connections 200]

#include <dirent.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/http_client.h"
#include "api/http_server.h"
#include "api/tls.h"
#include "support/test_certs.h"

namespace {

using namespace overmesh;
using Clock = std::chrono::steady_clock;
using Micros = std::chrono::duration<double, std::micro>;

struct Settings {
  int clients = 20;
  int rounds = 200;
  int seconds = 3;
  int connections = 200;
};

// The watch-like state: a revision and the handlers waiting for it to move.
class Revision {
 public:
  api::HttpResponse watch(const api::HttpRequest& request) {
    long from = std::strtol(request.queryOr("from", "0").c_str(), nullptr, 10);
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::seconds(25),
                      [&] { return stopping_ || revision_ > from; });
    --waiting_;
    return api::HttpResponse{200, fmt::format(R"({{"revision":{}}})", revision_)};
  }
  // Waits until `count` handlers wait.
  void awaitWaiting(int count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return waiting_ >= count; });
  }
  // Waits until `count` handlers wait, then moves the revision; returns when it did.
  Clock::time_point publishWhenWaiting(int count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return waiting_ >= count; });
    auto now = Clock::now();
    ++revision_;
    changed_.notify_all();
    return now;
  }
  long current() {
    std::lock_guard lock(mutex_);
    return revision_;
  }
  void stop() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  long revision_ = 0;
  int waiting_ = 0;
  bool stopping_ = false;
};

struct Figures {
  double fanoutP50 = 0;
  double fanoutP99 = 0;
  double fanoutMax = 0;
  double heartbeatsPerSecond = 0;
  double connectMean = 0;
  double connectP99 = 0;
  double threads = 0;
  int errors = 0;
};

// The threads of this process now.
int threadCount() {
  int count = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) {
      count += entry->d_name[0] != '.' ? 1 : 0;
    }
    closedir(dir);
  }
  return count;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

using ClientFactory = std::function<std::unique_ptr<api::HttpClient>(int client)>;

Figures measure(const Settings& settings, Revision& revision, const ClientFactory& makeClient) {
  Figures figures;
  std::atomic<int> errors{0};
  // (a) fan-out
  {
    std::mutex mutex;
    std::condition_variable answered;
    int answers = 0;
    Clock::time_point lastAnswer;
    std::atomic<bool> done{false};
    long start = revision.current();
    std::vector<std::thread> threads;
    for (int c = 0; c < settings.clients; ++c) {
      threads.emplace_back([&, c] {
        auto client = makeClient(c);
        long seen = start;
        while (!done) {
          auto response = client->request("GET", fmt::format("/watch?from={}", seen), "",
                                          std::chrono::seconds(30));
          if (!response || response->status != 200) {
            ++errors;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
          }
          seen = std::strtol(response->body.c_str() + std::string_view(R"({"revision":)").size(),
                             nullptr, 10);
          std::lock_guard lock(mutex);
          ++answers;
          lastAnswer = Clock::now();
          answered.notify_all();
        }
      });
    }
    std::vector<double> latencies;
    for (int round = 0; round < settings.rounds; ++round) {
      revision.awaitWaiting(settings.clients);
      figures.threads = std::max(figures.threads, static_cast<double>(threadCount()));
      auto published = revision.publishWhenWaiting(settings.clients);
      std::unique_lock lock(mutex);
      answered.wait(lock, [&] { return answers >= settings.clients; });
      latencies.push_back(Micros(lastAnswer - published).count());
      answers = 0;
    }
    // Every client is back in its long-poll: release them for good.
    revision.awaitWaiting(settings.clients);
    done = true;
    revision.publishWhenWaiting(0);
    for (auto& thread : threads) {
      thread.join();
    }
    figures.fanoutP50 = percentile(latencies, 0.5);
    figures.fanoutP99 = percentile(latencies, 0.99);
    figures.fanoutMax = percentile(latencies, 1.0);
  }
  // (b) heartbeat capacity
  {
    std::atomic<long> total{0};
    auto until = Clock::now() + std::chrono::seconds(settings.seconds);
    std::vector<std::thread> threads;
    for (int c = 0; c < settings.clients; ++c) {
      threads.emplace_back([&, c] {
        auto client = makeClient(c);
        while (Clock::now() < until) {
          auto response = client->request("POST", "/heartbeat", R"({"tasks":[]})");
          if (response && response->status == 200) {
            ++total;
          } else {
            ++errors;
          }
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    figures.heartbeatsPerSecond = static_cast<double>(total.load()) / settings.seconds;
  }
  // (c) connection cost
  {
    std::vector<double> costs;
    for (int i = 0; i < settings.connections; ++i) {
      auto start = Clock::now();
      auto client = makeClient(i % settings.clients);
      auto response = client->request("POST", "/heartbeat", "{}");
      costs.push_back(Micros(Clock::now() - start).count());
      if (!response || response->status != 200) {
        ++errors;
      }
    }
    double sum = 0;
    for (double cost : costs) {
      sum += cost;
    }
    figures.connectMean = costs.empty() ? 0 : sum / static_cast<double>(costs.size());
    figures.connectP99 = percentile(costs, 0.99);
  }
  figures.errors = errors.load();
  return figures;
}

void printRow(std::string_view what, double plain, double tls, std::string_view unit) {
  double ratio = plain > 0 ? tls / plain : 0;
  fmt::print("{:<34} {:>12.1f} {:>12.1f} {:>8.2f}x  {}\n", what, plain, tls, ratio, unit);
}

int parse(int argc, char** argv, Settings& settings) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (i + 1 >= argc) {
      fmt::print(stderr, "{} needs a value\n", flag);
      return 2;
    }
    int value = std::atoi(argv[++i]);
    if (value <= 0) {
      fmt::print(stderr, "{} must be a positive number, not {}\n", flag, argv[i]);
      return 2;
    }
    if (flag == "--clients") {
      settings.clients = value;
    } else if (flag == "--rounds") {
      settings.rounds = value;
    } else if (flag == "--seconds") {
      settings.seconds = value;
    } else if (flag == "--connections") {
      settings.connections = value;
    } else {
      fmt::print(stderr, "unknown flag {}; valid: --clients --rounds --seconds --connections\n",
                 flag);
      return 2;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (int failed = parse(argc, argv, settings); failed != 0) {
    return failed;
  }
  testing::TestCa ca = testing::makeTestCa("overmesh-ca-bench");
  testing::TestCert managerCert = testing::makeTestCert(
      ca,
      testing::TestCertSpec{
          .nodeId = "manager-1", .role = "manager", .dnsNames = {"manager-1", "overmesh-manager"}});
  std::vector<std::shared_ptr<const api::TlsClientConfig>> clientConfigs;
  for (int c = 0; c < settings.clients; ++c) {
    std::string node = fmt::format("node-{}", c + 1);
    testing::TestCert cert = testing::makeTestCert(
        ca, testing::TestCertSpec{.nodeId = node, .dnsNames = {node, "overmesh-worker"}});
    clientConfigs.push_back(std::make_shared<const api::TlsClientConfig>(
        api::TlsClientConfig{ca.certPem, "overmesh-manager", cert.certPem, cert.keyPem}));
  }
  auto serverConfig = std::make_shared<const api::TlsServerConfig>(
      api::TlsServerConfig{ca.certPem, managerCert.certPem, managerCert.keyPem});

  Revision revision;
  api::HttpServer server;
  server.setLimits({.maxConnections = api::kMaxClusterConnections});
  server.setStopDrain(std::chrono::milliseconds(0));
  server.route("GET", "/watch",
               [&](const api::HttpRequest& request) { return revision.watch(request); });
  server.route("POST", "/heartbeat", [](const api::HttpRequest&) {
    return api::HttpResponse{200, R"({"ok":true})"};
  });
  auto plainPort = server.listenTcp("127.0.0.1", 0);
  // Every simulated worker connects from 127.0.0.1: the per-address cap of handshaking
  // connections (meant for one attacker's address) is lifted to the whole pool here.
  auto tlsPort = server.listenTls(
      "127.0.0.1", 0,
      {.config = [serverConfig] { return serverConfig; }, .maxUnverifiedPerAddress = 64});
  if (!plainPort || !tlsPort) {
    fmt::print(stderr, "cannot listen: {}\n",
               !plainPort ? plainPort.error().message : tlsPort.error().message);
    return 1;
  }
  std::string plainEndpoint = fmt::format("tcp://127.0.0.1:{}", *plainPort);
  std::string tlsEndpoint = fmt::format("tcp://127.0.0.1:{}", *tlsPort);

  Figures plain = measure(settings, revision, [&](int) {
    return std::move(api::HttpClient::create(plainEndpoint).value());
  });
  Figures tls = measure(settings, revision, [&](int client) {
    return std::move(api::HttpClient::create(tlsEndpoint, clientConfigs[client]).value());
  });
  revision.stop();
  server.stop();

  fmt::print("cluster_tls: {} clients, {} fan-out rounds, {} s of heartbeats, {} connections\n",
             settings.clients, settings.rounds, settings.seconds, settings.connections);
  fmt::print("{:<34} {:>12} {:>12} {:>9}\n", "", "plain TCP", "mTLS 1.3", "TLS/plain");
  printRow("(a) fan-out to all clients, p50", plain.fanoutP50, tls.fanoutP50, "us");
  printRow("(a) fan-out to all clients, p99", plain.fanoutP99, tls.fanoutP99, "us");
  printRow("(a) fan-out to all clients, max", plain.fanoutMax, tls.fanoutMax, "us");
  printRow("(b) heartbeats", plain.heartbeatsPerSecond, tls.heartbeatsPerSecond, "req/s");
  printRow("(c) new connection + request, mean", plain.connectMean, tls.connectMean, "us");
  printRow("(c) new connection + request, p99", plain.connectP99, tls.connectP99, "us");
  printRow("(d) process threads, long-polls held", plain.threads, tls.threads, "threads");
  if (plain.errors + tls.errors > 0) {
    fmt::print("failed requests: plain {}, TLS {}\n", plain.errors, tls.errors);
  }
  return 0;
}
