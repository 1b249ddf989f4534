// Service convergence and node failure in a lab of real daemons, as a client task sees them.
//
//   1. Builds a lab (`overmesh lab up --hosts 10`, h1 the manager) in a temporary run dir,
//      an attachable overlay network "bench", and one client task per host (`sleep 3600`).
//   2. Service create: starts bench/service_probe inside every client (POST
//      /v1/tasks/<client>/exec on the client's own host, what `overmesh exec` sends), then
//      creates the services svc01..svcN one at a time (POST /v1/services on the manager's
//      socket, what `service create -d` sends; `socat TCP-LISTEN:80,fork SYSTEM:hostname`,
//      --replicas R). Each probe resolves the name through its task's resolv.conf (the
//      embedded DNS) and connects through its own VIP load balancer, and records when both
//      first succeed (CLOCK_REALTIME, in a file the bench reads while it runs). Measured:
//      from sending the create to that, on each node and on the slowest ("every node").
//   3. Node failure, --kills times (h<hosts>, h<hosts-1>, ...; never the manager): a service
//      "victim" with one replica per host; a watching probe in the client of every other
//      live host; SIGKILL of the victim host's overmeshd (its tasks keep running as
//      processes, so their endpoints can only leave by the manager's node-down decision).
//      Measured from the kill: the victim's endpoints gone from `tasks.victim` and from the
//      sandbox's nftables LB table on every other node (the slowest node counts), the node
//      shown down by the manager (GET /v1/nodes every 10 ms), and the replacements
//      answering (tasks.victim holds R addresses again and each replies on port 80).
//   4. Prints median, p99 and max (with N) as a table next to Docker Swarm 20.10's figures
//      measured in the same kind of lab (issue 8), and removes the lab (also on failure or
//      Ctrl-C).
//
// Run (as root; the lab lives in network namespaces, never the machine's own):
//   scripts/build.sh release overmesh overmeshd service_convergence service_probe
//   sudo build/release/bench/service_convergence [--hosts 10] [--services 20] [--replicas 2]
//                                                [--kills 3] [--log-level info] [--logs DIR]
// It uses the overmesh and overmeshd binaries of the same build tree and service_probe from
// its own directory. The node timeout is the swarm's default (3 s): `lab up` has no flag
// for it.

#include <fmt/format.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/http_client.h"
#include "api/service_types.h"
#include "api/task_io.h"
#include "support/lab_session.h"
#include "support/process.h"

namespace {

using overmesh::api::HttpClient;
using overmesh::testing::LabSession;
using overmesh::testing::readFile;
using overmesh::testing::TempDir;

// Set by SIGINT/SIGTERM: every wait gives up, then the lab is removed.
std::atomic<bool> interrupted{false};

void onSignal(int) { interrupted = true; }

constexpr long long kNodeTimeoutMs = 3000;  // the swarm default; the lab cannot change it
// Docker Swarm 20.10 in the same kind of lab (dnsrr, no IPVS here), from issue 8.
constexpr double kDockerCreateMs = 1260;
constexpr double kDockerDnsGoneMs = 6400;
constexpr double kDockerDownMs = 12000;
constexpr double kDockerReplacementMs = 17600;

struct Options {
  int hosts = 10;
  int services = 20;
  int replicas = 2;
  int kills = 3;
  std::string logLevel = "info";  // the daemons' --log-level
  std::string logsDir;            // where to copy the daemons' logs before the lab goes
};

long long realtimeMs() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

std::unique_ptr<HttpClient> connectOrExit(const std::string& endpoint) {
  auto client = HttpClient::create(endpoint);
  if (!client) {
    fmt::print(stderr, "{}\n", client.error().message);
    std::exit(1);
  }
  return std::move(*client);
}

// GET `path` as JSON; null when it fails.
nlohmann::json getJson(HttpClient& client, const std::string& path) {
  auto response = client.request("GET", path, "", std::chrono::seconds(5));
  if (!response || response->status != 200) {
    return nullptr;
  }
  return nlohmann::json::parse(response->body, nullptr, false);
}

std::string withoutPrefix(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

// One service_probe run inside a client task through the exec API, on a thread of its own
// (an exec request blocks until the command ends). The probe reports through `file`.
class Probe {
 public:
  Probe(const std::string& endpoint, const std::string& task, std::vector<std::string> command,
        std::string file)
      : file_(std::move(file)) {
    // Thread: waits for the exec to end; writes only outcome_ (guarded by mutex_) and done_.
    thread_ = std::jthread([this, endpoint, task, command = std::move(command)] {
      std::string outcome;
      auto client = HttpClient::create(endpoint);
      if (!client) {
        outcome = client.error().message;
      } else {
        (*client)->setCancelFlag(&cancel_);
        auto body = overmesh::api::encodeExecRequest({command, overmesh::api::kNoTimeout});
        auto answer = (*client)->request("POST", "/v1/tasks/" + task + "/exec", body,
                                         overmesh::api::kNoTimeout);
        if (!answer) {
          outcome = answer.error().message;
        } else if (answer->status != 200) {
          outcome = fmt::format("exec in {}: HTTP {}: {}", task, answer->status, answer->body);
        } else {
          auto output = overmesh::api::decodeExecOutput(answer->body, "exec answer");
          outcome = !output
                        ? output.error().message
                        : fmt::format("exit {} {}{}", output->exitCode, output->out, output->err);
        }
      }
      std::lock_guard lock(mutex_);
      outcome_ = outcome;
      done_ = true;
    });
  }

  // Cuts the exec request short (the probe itself ends with its task's daemon, at the
  // latest when the lab is removed) and joins the thread.
  ~Probe() { cancel_ = true; }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  bool done() const { return done_; }
  std::string outcome() const {
    std::lock_guard lock(mutex_);
    return outcome_;
  }

  // The probe's lines so far, by their first word: "svc01" -> {"1764...", "10.0.0.5", ...}.
  std::map<std::string, std::vector<std::string>> lines() const {
    std::map<std::string, std::vector<std::string>> out;
    std::istringstream text(readFile(file_));
    for (std::string line; std::getline(text, line);) {
      std::istringstream words(line);
      std::string key;
      words >> key;
      std::vector<std::string> rest;
      for (std::string word; words >> word;) {
        rest.push_back(word);
      }
      if (!key.empty()) {
        out.emplace(key, rest);
      }
    }
    return out;
  }

  // The timestamp of line `key`, if the probe wrote it.
  std::optional<long long> at(const std::string& key) const {
    auto all = lines();
    auto found = all.find(key);
    if (found == all.end() || found->second.empty()) {
      return std::nullopt;
    }
    return std::atoll(found->second[0].c_str());
  }

 private:
  std::string file_;
  mutable std::mutex mutex_;
  std::string outcome_;  // guarded by mutex_
  std::atomic<bool> done_{false};
  std::atomic<bool> cancel_{false};
  std::jthread thread_;  // last: joined before the fields it uses go
};

// Waits (polling every 2 ms) until every probe wrote line `key`, one fails, `bound` passes
// or the run is interrupted. On failure prints why and returns false.
bool waitForAll(const std::vector<std::unique_ptr<Probe>>& probes, const std::string& key,
                std::chrono::seconds bound, const std::vector<std::string>& labels) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!interrupted) {
    bool all = true;
    for (std::size_t i = 0; i < probes.size(); ++i) {
      if (probes[i]->at(key)) {
        continue;
      }
      all = false;
      if (probes[i]->done() || probes[i]->at("timeout")) {
        fmt::print(stderr, "probe in {} ended before \"{}\": {}\n", labels[i], key,
                   probes[i]->outcome());
        return false;
      }
    }
    if (all) {
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fmt::print(stderr, "not every probe saw \"{}\" within {} s\n", key, bound.count());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

struct Stats {
  std::size_t n = 0;
  double median = 0;
  double p99 = 0;
  double max = 0;
};

// Median, p99 (nearest rank) and max of `values`; n 0 when empty.
Stats summarize(std::vector<double> values) {
  Stats stats;
  stats.n = values.size();
  if (values.empty()) {
    return stats;
  }
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  stats.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  auto rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(n)));
  stats.p99 = values[std::max<std::size_t>(rank, 1) - 1];
  stats.max = values.back();
  return stats;
}

class Bench {
 public:
  explicit Bench(const Options& options) : options_(options), lab_("sc") {}

  int run();

 private:
  std::string socket(int host) const {
    return fmt::format("unix://{}/{}/h{}/overmesh.sock", lab_.runDir(), lab_.name(), host);
  }
  std::string client(int host) const { return fmt::format("client{}", host); }
  std::string probeFile(const std::string& phase, int host) const {
    return fmt::format("{}/{}-h{}.txt", files_.path(), phase, host);
  }
  std::string probeBinary() const {
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "service_probe")
        .string();
  }

  bool setUp();
  bool measureCreate();
  bool measureKills();
  void printTable() const;
  void keepLogs() const;

  // The manager's tasks of `service` that should run and run, as {node hostname, address}.
  std::vector<std::pair<std::string, std::string>> runningTasks(const std::string& service);
  std::string nodeState(const std::string& hostname);
  bool createService(const std::string& name, int replicas);

  Options options_;
  TempDir files_;  // probe output; outlives the lab
  LabSession lab_;
  std::unique_ptr<HttpClient> manager_;

  // Results, in milliseconds.
  std::vector<double> createEveryNode_;    // per service: the slowest node
  std::vector<double> createPerNode_;      // per (service, node)
  std::vector<double> createNodeWithout_;  // per (service, node without a replica)
  std::vector<double> dnsGone_, lbGone_, nodeDown_, answering_;  // per kill: slowest node
  // The same from the moment the bench saw the node down: propagation without detection.
  std::vector<double> dnsAfterDown_, lbAfterDown_, answeringAfterDown_;
};

bool Bench::createService(const std::string& name, int replicas) {
  overmesh::api::ServiceSpec spec;
  spec.name = name;
  spec.replicas = replicas;
  spec.command = {"socat", "TCP-LISTEN:80,fork,reuseaddr", "SYSTEM:hostname"};
  spec.networks = {{"bench", {}}};
  auto created = manager_->request("POST", "/v1/services", nlohmann::json(spec).dump());
  if (!created || created->status / 100 != 2) {
    fmt::print(stderr, "service create {} failed: {}\n", name,
               created ? created->body : created.error().message);
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> Bench::runningTasks(const std::string& service) {
  std::vector<std::pair<std::string, std::string>> out;
  auto tasks = getJson(*manager_, "/v1/tasks");
  if (!tasks.is_array()) {
    return out;
  }
  for (const auto& task : tasks) {
    if (task.value("serviceName", "") == service && task.value("desiredState", "") == "running" &&
        task.value("state", "") == "running" && task["attachments"].is_array() &&
        !task["attachments"].empty()) {
      out.emplace_back(task.value("nodeName", ""),
                       withoutPrefix(task["attachments"][0].value("address", "")));
    }
  }
  return out;
}

std::string Bench::nodeState(const std::string& hostname) {
  auto nodes = getJson(*manager_, "/v1/nodes");
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

bool Bench::setUp() {
  fmt::print("building a {}-host lab...\n", options_.hosts);
  if (!lab_.up(options_.hosts, options_.logLevel)) {
    fmt::print(stderr, "lab up failed: {}\n", lab_.error());
    return false;
  }
  manager_ = connectOrExit(socket(1));
  auto network = lab_.cli(1, {"network", "create", "-d", "overlay", "--attachable", "--subnet",
                              "10.0.64.0/20", "bench"});
  if (network.exitCode != 0) {
    fmt::print(stderr, "network create failed: {}\n", network.err);
    return false;
  }
  for (int host = 1; host <= options_.hosts; ++host) {
    auto ran = lab_.cli(1, {"run", "--name", client(host), "--node", lab_.hostNamespace(host),
                            "--network", "bench", "--", "sleep", "3600"});
    if (ran.exitCode != 0) {
      fmt::print(stderr, "client on h{} failed: {}\n", host, ran.err);
      return false;
    }
  }
  bool running = overmesh::testing::eventually(
      [&] {
        auto tasks = getJson(*manager_, "/v1/tasks");
        int count = 0;
        for (const auto& task : tasks.is_array() ? tasks : nlohmann::json::array()) {
          count +=
              task.value("name", "").starts_with("client") && task.value("state", "") == "running";
        }
        return interrupted || count == options_.hosts;
      },
      std::chrono::seconds(60));
  if (!running || interrupted) {
    fmt::print(stderr, "the clients did not all run\n");
    return false;
  }
  return true;
}

bool Bench::measureCreate() {
  std::vector<std::string> names;
  for (int i = 1; i <= options_.services; ++i) {
    names.push_back(fmt::format("svc{:02}", i));
  }
  std::vector<std::unique_ptr<Probe>> probes;
  std::vector<std::string> labels;
  for (int host = 1; host <= options_.hosts; ++host) {
    std::vector<std::string> command = {probeBinary(), "--deadline-s",
                                        std::to_string(30 * options_.services + 60), "up",
                                        probeFile("create", host)};
    command.insert(command.end(), names.begin(), names.end());
    probes.push_back(
        std::make_unique<Probe>(socket(host), client(host), command, probeFile("create", host)));
    labels.push_back(client(host));
  }
  if (!waitForAll(probes, "start", std::chrono::seconds(20), labels)) {
    return false;
  }
  fmt::print(
      "\nservice create -> resolves and connects from the client on every node "
      "({} replicas each):\n",
      options_.replicas);
  std::map<std::string, std::vector<double>> perHost;  // service -> ms per host (1-based - 1)
  for (const auto& name : names) {
    long long sent = realtimeMs();
    if (!createService(name, options_.replicas)) {
      return false;
    }
    long long returned = realtimeMs();
    if (!waitForAll(probes, name, std::chrono::seconds(30), labels)) {
      return false;
    }
    double slowest = 0;
    double fastest = 1e18;
    for (const auto& probe : probes) {
      double ms = static_cast<double>(*probe->at(name) - sent);
      perHost[name].push_back(ms);
      createPerNode_.push_back(ms);
      slowest = std::max(slowest, ms);
      fastest = std::min(fastest, ms);
    }
    createEveryNode_.push_back(slowest);
    fmt::print("  {}  API {:4} ms   first node {:6.0f} ms   every node {:6.0f} ms\n", name,
               returned - sent, fastest, slowest);
  }
  // Which nodes ran a replica of each: Docker's figure is for a node without one.
  for (const auto& name : names) {
    std::set<std::string> withReplica;
    for (const auto& [node, address] : runningTasks(name)) {
      withReplica.insert(node);
    }
    for (int host = 1; host <= options_.hosts; ++host) {
      if (!withReplica.contains(lab_.hostNamespace(host))) {
        createNodeWithout_.push_back(perHost[name][static_cast<std::size_t>(host - 1)]);
      }
    }
  }
  return true;
}

bool Bench::measureKills() {
  const std::string service = "victim";
  if (!createService(service, options_.hosts)) {
    return false;
  }
  bool spread = overmesh::testing::eventually(
      [&] { return interrupted || runningTasks(service).size() == std::size_t(options_.hosts); },
      std::chrono::seconds(60));
  if (!spread || interrupted) {
    fmt::print(stderr, "{} never ran {} tasks\n", service, options_.hosts);
    return false;
  }
  std::set<int> killed;
  for (int attempt = 0; attempt < options_.kills && !interrupted; ++attempt) {
    int victim = options_.hosts - attempt;
    std::string victimName = lab_.hostNamespace(victim);
    std::vector<std::string> gone;
    for (const auto& [node, address] : runningTasks(service)) {
      if (node == victimName) {
        gone.push_back(address);
      }
    }
    if (gone.empty()) {
      fmt::print("  kill {}: h{} runs no replica of {}; skipped\n", attempt + 1, victim, service);
      continue;
    }
    killed.insert(victim);
    std::string phase = fmt::format("kill{}", attempt + 1);
    std::vector<std::unique_ptr<Probe>> probes;
    std::vector<std::string> labels;
    std::string goneList;
    for (const auto& address : gone) {
      goneList += (goneList.empty() ? "" : ",") + address;
    }
    for (int host = 1; host <= options_.hosts; ++host) {
      if (killed.contains(host)) {
        continue;
      }
      probes.push_back(std::make_unique<Probe>(
          socket(host), client(host),
          std::vector<std::string>{probeBinary(), "--nft", "--deadline-s", "90", "watch",
                                   probeFile(phase, host), "tasks." + service,
                                   std::to_string(options_.hosts), goneList},
          probeFile(phase, host)));
      labels.push_back(client(host));
    }
    if (!waitForAll(probes, "ready", std::chrono::seconds(30), labels)) {
      return false;
    }
    auto status = lab_.lab({"status", "--format", "json"});
    auto json = nlohmann::json::parse(status.out, nullptr, false);
    int pid = json.is_object() ? json["hosts"][victim - 1].value("pid", 0) : 0;
    if (pid <= 1) {
      fmt::print(stderr, "no daemon pid for h{}\n", victim);
      return false;
    }
    long long killedAt = realtimeMs();
    if (kill(pid, SIGKILL) != 0) {
      fmt::print(stderr, "kill {}: {}\n", pid, std::strerror(errno));
      return false;
    }
    std::optional<long long> downAt;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!downAt && !interrupted && std::chrono::steady_clock::now() < deadline) {
      if (nodeState(victimName) == "down") {
        downAt = realtimeMs();
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    if (!downAt) {
      fmt::print(stderr, "h{} was never reported down\n", victim);
      return false;
    }
    if (!waitForAll(probes, "answering", std::chrono::seconds(60), labels) ||
        !waitForAll(probes, "dns-gone", std::chrono::seconds(1), labels) ||
        !waitForAll(probes, "lb-gone", std::chrono::seconds(1), labels)) {
      return false;
    }
    // Per node, from the kill; the slowest node is the figure ("everywhere").
    auto perNode = [&](const std::string& key) {
      std::vector<double> out;
      for (const auto& probe : probes) {
        out.push_back(static_cast<double>(*probe->at(key) - killedAt));
      }
      std::sort(out.begin(), out.end());
      return out;
    };
    auto dns = perNode("dns-gone");
    auto lb = perNode("lb-gone");
    auto replaced = perNode("answering");
    double down = static_cast<double>(*downAt - killedAt);
    dnsGone_.push_back(dns.back());
    lbGone_.push_back(lb.back());
    nodeDown_.push_back(down);
    answering_.push_back(replaced.back());
    dnsAfterDown_.push_back(dns.back() - down);
    lbAfterDown_.push_back(lb.back() - down);
    answeringAfterDown_.push_back(replaced.back() - down);
    fmt::print(
        "  kill {}: h{} ({} replica(s)), seen from {} nodes (first..last node, ms after the "
        "kill):\n"
        "    node down {:.0f}; DNS gone {:.0f}..{:.0f}; LB gone {:.0f}..{:.0f}; replacements "
        "answering {:.0f}..{:.0f}\n",
        attempt + 1, victim, gone.size(), probes.size(), down, dns.front(), dns.back(), lb.front(),
        lb.back(), replaced.front(), replaced.back());
  }
  return !interrupted;
}

void Bench::printTable() const {
  struct Row {
    std::string what;
    Stats stats;
    std::string target;
    double docker;  // 0: no reference
  };
  std::vector<Row> rows = {
      {"create -> resolves+connects on every node", summarize(createEveryNode_), "p99 < 500",
       kDockerCreateMs},
      {"create -> on one node (each node)", summarize(createPerNode_), "", kDockerCreateMs},
      {"create -> on a node without a replica", summarize(createNodeWithout_), "", kDockerCreateMs},
      {"kill -9 -> endpoints gone from DNS everywhere", summarize(dnsGone_),
       fmt::format("<= {}", kNodeTimeoutMs + 500), kDockerDnsGoneMs},
      {"kill -9 -> endpoints gone from LB maps everywhere", summarize(lbGone_),
       fmt::format("<= {}", kNodeTimeoutMs + 500), 0},
      {"kill -9 -> node shown down", summarize(nodeDown_), "", kDockerDownMs},
      {"kill -9 -> replacements answering everywhere", summarize(answering_), "< 5000",
       kDockerReplacementMs},
      {"node seen down -> endpoints gone from DNS everywhere", summarize(dnsAfterDown_), "", 0},
      {"node seen down -> endpoints gone from LB maps everywhere", summarize(lbAfterDown_), "", 0},
      {"node seen down -> replacements answering everywhere", summarize(answeringAfterDown_), "",
       0},
  };
  fmt::print("\nresults ({} hosts, {} services x {} replicas, node timeout {} ms; ms):\n",
             options_.hosts, options_.services, options_.replicas, kNodeTimeoutMs);
  fmt::print("  {:<56} {:>4} {:>8} {:>8} {:>8} {:>10} {:>8} {:>14}\n", "measurement", "N", "median",
             "p99", "max", "target", "docker", "docker/median");
  for (const auto& row : rows) {
    if (row.stats.n == 0) {
      fmt::print("  {:<56} {:>4}   (not measured)\n", row.what, 0);
      continue;
    }
    std::string docker = row.docker > 0 ? fmt::format("{:.0f}", row.docker) : "-";
    std::string ratio = row.docker > 0 && row.stats.median > 0
                            ? fmt::format("{:.1f}x", row.docker / row.stats.median)
                            : "-";
    fmt::print("  {:<56} {:>4} {:>8.0f} {:>8.0f} {:>8.0f} {:>10} {:>8} {:>14}\n", row.what,
               row.stats.n, row.stats.median, row.stats.p99, row.stats.max,
               row.target.empty() ? "-" : row.target, docker, ratio);
  }
  fmt::print(
      "  docker: Swarm 20.10, same kind of lab, dnsrr; create = tasks.web complete on a host "
      "without a task.\n");
}

// Copies every host's overmeshd.log to --logs DIR as h<i>.log (timestamps in each line tell
// where the time went) and the probes' outputs as probe-<phase>-h<i>.txt; nothing without
// --logs.
void Bench::keepLogs() const {
  if (options_.logsDir.empty()) {
    return;
  }
  std::error_code error;
  std::filesystem::create_directories(options_.logsDir, error);
  for (int host = 1; host <= options_.hosts; ++host) {
    auto from = fmt::format("{}/{}/h{}/overmeshd.log", lab_.runDir(), lab_.name(), host);
    auto to = fmt::format("{}/h{}.log", options_.logsDir, host);
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
    if (error) {
      fmt::print(stderr, "cannot copy {} to {}: {}\n", from, to, error.message());
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(files_.path(), error)) {
    std::filesystem::copy_file(entry.path(),
                               options_.logsDir + "/probe-" + entry.path().filename().string(),
                               std::filesystem::copy_options::overwrite_existing, error);
  }
  fmt::print("daemon logs copied to {}/h*.log, probe outputs to {}/probe-*.txt\n", options_.logsDir,
             options_.logsDir);
}

int Bench::run() {
  if (!std::filesystem::exists(probeBinary())) {
    fmt::print(stderr, "{} is missing: build the service_probe target\n", probeBinary());
    return 1;
  }
  bool ok = setUp() && measureCreate() && measureKills();
  keepLogs();
  if (!ok || interrupted) {
    std::fflush(stdout);  // the figures so far first, then why it stopped
    fmt::print(stderr, "{}; daemon logs under {}/{}/h*/overmeshd.log (removed with the lab)\n",
               interrupted ? "interrupted" : "failed", lab_.runDir(), lab_.name());
    printTable();
    return 1;
  }
  printTable();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    bool numeric =
        flag == "--hosts" || flag == "--services" || flag == "--replicas" || flag == "--kills";
    if (i + 1 >= argc || (!numeric && flag != "--log-level" && flag != "--logs")) {
      fmt::print(stderr,
                 "usage: {} [--hosts N (3-50)] [--services N] [--replicas N] [--kills N]\n"
                 "          [--log-level trace|debug|info|warn|error] [--logs DIR]\n",
                 argv[0]);
      return 2;
    }
    if (!numeric) {
      (flag == "--logs" ? options.logsDir : options.logLevel) = argv[++i];
      continue;
    }
    int value = std::atoi(argv[++i]);
    (flag == "--hosts"      ? options.hosts
     : flag == "--services" ? options.services
     : flag == "--replicas" ? options.replicas
                            : options.kills) = value;
  }
  if (options.hosts < 3 || options.hosts > 50 || options.services < 1 || options.services > 99 ||
      options.replicas < 1 || options.kills < 0 || options.kills > options.hosts - 2) {
    fmt::print(stderr,
               "--hosts must be 3-50, --services 1-99, --replicas at least 1, --kills 0 to "
               "hosts-2 (the manager and one worker stay)\n");
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
  Bench bench(options);
  return bench.run();
}
