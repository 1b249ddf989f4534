// Cluster convergence and dead-node detection in a lab of real daemons.
//
//   1. Builds a lab (`overmesh lab up --hosts 5`, h1 the manager) in a temporary run dir.
//   2. Creates 20 networks, one at a time, on the manager (POST /v1/networks on its local
//      socket, what `overmesh network create` sends) and measures, for each, the time from
//      that request returning to the network being visible on EVERY worker. Each worker's
//      local API is polled directly (GET /v1/networks/<name> over its unix socket, one
//      keep-alive connection per worker, round robin with no sleep), so the resolution is
//      a few hundred microseconds; a worker answers from its watch-fed cache, as
//      `network ls` on it does.
//   3. Dead-node detection, 3 times: SIGKILL one worker's daemon (h5), time until the
//      manager's GET /v1/nodes reports it "down" (polled every 10 ms), then `lab start` it
//      and wait until it is ready again before the next try.
//   4. Prints median and max of both, and removes the lab (also on failure or Ctrl-C).
//
// Run (as root; the lab lives in network namespaces, never the machine's own):
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
//   ninja -C build overmesh overmeshd cluster_convergence
//   sudo build/bench/cluster_convergence [--hosts 5] [--networks 20] [--kills 3]
// It uses the overmesh and overmeshd binaries of the same build tree.

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/http_client.h"
#include "support/process.h"

namespace {

using overmesh::api::HttpClient;
using overmesh::testing::binaryPath;
using overmesh::testing::CommandResult;
using overmesh::testing::runCommand;
using overmesh::testing::TempDir;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

std::atomic<bool> interrupted{false};

void onSignal(int) { interrupted = true; }

struct Options {
  int hosts = 5;
  int networks = 20;
  int kills = 3;
};

// The lab, removed on destruction whatever happened.
class Lab {
 public:
  explicit Lab(std::string name) : name_(std::move(name)) {}
  ~Lab() {
    if (up_) {
      auto down = run("down");
      fmt::print("lab down: {}\n", down.exitCode == 0 ? "ok" : down.err);
    }
  }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  CommandResult run(const std::string& subcommand, const std::vector<std::string>& args = {}) {
    std::vector<std::string> argv = {
        binaryPath("overmesh"), "lab", subcommand, "--name", name_, "--run-dir", runDir_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv);
  }

  bool up(int hosts) {
    up_ = true;  // also a half-built lab must be removed
    auto result = run("up", {"--hosts", std::to_string(hosts)});
    if (result.exitCode != 0) {
      fmt::print(stderr, "lab up failed: {}{}\n", result.out, result.err);
      return false;
    }
    return true;
  }

  std::string socket(int host) const {
    return fmt::format("unix://{}/{}/h{}/overmesh.sock", runDir_.path(), name_, host);
  }

  int pid(int host) {
    auto status = run("status", {"--format", "json"});
    auto json = nlohmann::json::parse(status.out, nullptr, false);
    if (!json.is_object()) {
      return 0;
    }
    return json["hosts"][host - 1].value("pid", 0);
  }

  std::string hostname(int host) const { return fmt::format("{}-h{}", name_, host); }

 private:
  std::string name_;
  TempDir runDir_;
  bool up_ = false;
};

std::unique_ptr<HttpClient> connect(const std::string& endpoint) {
  auto client = HttpClient::create(endpoint);
  if (!client) {
    fmt::print(stderr, "{}\n", client.error().message);
    std::exit(1);
  }
  return std::move(*client);
}

// The state the manager reports for node `hostname`; "" when absent or unknown.
std::string nodeState(HttpClient& manager, const std::string& hostname) {
  auto response = manager.request("GET", "/v1/nodes", "", std::chrono::seconds(2));
  if (!response || response->status != 200) {
    return "";
  }
  auto nodes = nlohmann::json::parse(response->body, nullptr, false);
  if (!nodes.is_array()) {
    return "";
  }
  for (const auto& node : nodes) {
    if (node.value("hostname", "") == hostname) {
      return node.value("state", "");
    }
  }
  return "";
}

// Polls `check` every `interval` until it is true (returns true), or `bound` passes or the
// run is interrupted (returns false).
template <typename Check>
bool waitUntil(Check check, std::chrono::milliseconds interval, std::chrono::seconds bound) {
  auto deadline = Clock::now() + bound;
  while (!interrupted && Clock::now() < deadline) {
    if (check()) {
      return true;
    }
    std::this_thread::sleep_for(interval);
  }
  return false;
}

struct Summary {
  double median = 0;
  double max = 0;
};

Summary summarize(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  double median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {median, values.back()};
}

int run(const Options& options) {
  Lab lab(fmt::format("b{}", getpid() % 100000));
  fmt::print("building a {}-host lab...\n", options.hosts);
  if (!lab.up(options.hosts)) {
    return 1;
  }
  auto manager = connect(lab.socket(1));
  std::vector<std::unique_ptr<HttpClient>> workers;
  for (int host = 2; host <= options.hosts; ++host) {
    workers.push_back(connect(lab.socket(host)));
  }
  bool ready = waitUntil(
      [&] {
        for (int host = 1; host <= options.hosts; ++host) {
          if (nodeState(*manager, lab.hostname(host)) != "ready") {
            return false;
          }
        }
        return true;
      },
      std::chrono::milliseconds(100), std::chrono::seconds(20));
  if (!ready) {
    fmt::print(stderr, "the nodes never became ready\n");
    return 1;
  }

  // ---- convergence of a network create -------------------------------------------------
  std::vector<double> convergence;
  for (int i = 0; i < options.networks && !interrupted; ++i) {
    std::string name = fmt::format("bench{}", i);
    nlohmann::json body = {{"name", name}, {"driver", "overlay"}};
    auto created = manager->request("POST", "/v1/networks", body.dump(), std::chrono::seconds(30));
    auto returned = Clock::now();
    if (!created || created->status / 100 != 2) {
      fmt::print(stderr, "network create {} failed: {}\n", name,
                 created ? created->body : created.error().message);
      return 1;
    }
    std::vector<bool> seen(workers.size(), false);
    std::size_t left = workers.size();
    auto deadline = returned + std::chrono::seconds(30);
    while (left > 0 && !interrupted && Clock::now() < deadline) {
      for (std::size_t w = 0; w < workers.size(); ++w) {
        if (seen[w]) {
          continue;
        }
        auto got = workers[w]->request("GET", "/v1/networks/" + name, "", std::chrono::seconds(2));
        if (got && got->status == 200) {
          seen[w] = true;
          --left;
        }
      }
    }
    if (left > 0) {
      fmt::print(stderr, "{} did not reach every worker within 30 s\n", name);
      return 1;
    }
    convergence.push_back(Millis(Clock::now() - returned).count());
    fmt::print("  {:<8} on all {} workers after {:7.2f} ms\n", name, workers.size(),
               convergence.back());
  }

  // ---- dead-node detection -------------------------------------------------------------
  std::vector<double> detection;
  int victim = options.hosts;
  for (int attempt = 0; attempt < options.kills && !interrupted; ++attempt) {
    int pid = lab.pid(victim);
    if (pid <= 1) {
      fmt::print(stderr, "no daemon pid for h{}\n", victim);
      return 1;
    }
    auto killedAt = Clock::now();
    if (kill(pid, SIGKILL) != 0) {
      fmt::print(stderr, "kill {}: {}\n", pid, std::strerror(errno));
      return 1;
    }
    bool down = waitUntil([&] { return nodeState(*manager, lab.hostname(victim)) == "down"; },
                          std::chrono::milliseconds(10), std::chrono::seconds(30));
    if (!down) {
      fmt::print(stderr, "h{} was never reported down\n", victim);
      return 1;
    }
    detection.push_back(Millis(Clock::now() - killedAt).count());
    fmt::print("  kill {}: h{} down after {:7.1f} ms\n", attempt + 1, victim, detection.back());
    auto started = lab.run("start", {std::to_string(victim)});
    if (started.exitCode != 0) {
      fmt::print(stderr, "lab start h{} failed: {}\n", victim, started.err);
      return 1;
    }
    bool back = waitUntil([&] { return nodeState(*manager, lab.hostname(victim)) == "ready"; },
                          std::chrono::milliseconds(20), std::chrono::seconds(20));
    if (!back) {
      fmt::print(stderr, "h{} did not become ready again\n", victim);
      return 1;
    }
  }
  if (interrupted) {
    fmt::print(stderr, "interrupted\n");
    return 1;
  }

  auto conv = summarize(convergence);
  auto det = summarize(detection);
  fmt::print(
      "\nresults ({} hosts, default node timeout 3 s):\n"
      "  network create -> on every worker ({} tries): median {:.2f} ms, max {:.2f} ms\n"
      "  SIGKILL -> manager reports node down ({} tries): median {:.0f} ms, max {:.0f} ms\n",
      options.hosts, convergence.size(), conv.median, conv.max, detection.size(), det.median,
      det.max);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc || (flag != "--hosts" && flag != "--networks" && flag != "--kills")) {
      fmt::print(stderr, "usage: {} [--hosts N (2-50)] [--networks N] [--kills N]\n", argv[0]);
      return 2;
    }
    int value = std::atoi(argv[++i]);
    (flag == "--hosts"      ? options.hosts
     : flag == "--networks" ? options.networks
                            : options.kills) = value;
  }
  if (options.hosts < 2 || options.hosts > 50 || options.networks < 1 || options.kills < 1) {
    fmt::print(stderr, "--hosts must be 2-50, --networks and --kills at least 1\n");
    return 2;
  }
  if (geteuid() != 0) {
    fmt::print(stderr, "run as root: the lab creates network namespaces\n");
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  return run(options);
}
