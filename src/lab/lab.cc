// The lab's public operations (lab.h): up, down, status and exec, and the control of one
// host's daemon (start, stop, restart). The pieces they are built from live in the other
// lab_*.cc files (see lab_internal.h).

#include "lab/lab.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "lab/lab_internal.h"
#include "lab/lab_leftovers.h"
#include "lab/unit_exec_start.h"

namespace overmesh::lab {
namespace {

namespace fs = std::filesystem;
namespace kernel = dataplane::kernel;
using kernel::NamespaceId;
using kernel::Netlink;
using namespace internal;

// The join token for `role` ("worker" | "manager") from host 1.
Result<std::string> joinToken(const LabHost& manager, const std::string& role) {
  // {"token": T} for the role asked (issue 12); a daemon from before it answers
  // {"worker": T} and ignores the query.
  auto tokens = callDaemon(manager, "GET", "/v1/swarm/join-token?role=" + role, nullptr,
                           std::chrono::seconds(10));
  if (!tokens) {
    return std::unexpected(tokens.error().withContext(
        fmt::format("read the {} join token from {}", role, manager.name)));
  }
  std::string token = tokens->is_object() ? tokens->value("token", tokens->value(role, "")) : "";
  if (token.empty()) {
    return errorf(ErrorKind::Internal, "{} returned no {} join token: {}", manager.name, role,
                  tokens->dump());
  }
  return token;
}

// How the daemons of `record` start: with the unit's ExecStart= words when `lab up --unit`
// made the lab, else the daemon binary alone; `overmeshdPath` (`lab start|restart
// --overmeshd`) replaces argv[0] only.
DaemonLaunch daemonLaunch(const LabRecord& record, const std::string& overmeshdPath) {
  DaemonLaunch launch{record.name, record.overmeshdPath, record.logLevel, {}};
  if (!record.unitCommand.empty()) {
    launch.overmeshdPath = record.unitCommand.front();
    launch.unitArguments.assign(record.unitCommand.begin() + 1, record.unitCommand.end());
  }
  if (!overmeshdPath.empty()) {
    launch.overmeshdPath = overmeshdPath;
  }
  return launch;
}

// Host 1 makes the swarm (on the etcd members when the lab has them); hosts 2..managers
// join with the manager token, the others with the worker token.
Status formSwarm(LabRecord& record, int managers) {
  const LabHost& manager = record.hosts.front();
  nlohmann::json initBody{{"advertiseAddr", manager.address}};
  if (!record.etcd.empty()) {
    initBody["store"] = record.store;
  }
  auto init = callDaemon(manager, "POST", "/v1/swarm/init", initBody, std::chrono::seconds(30));
  if (!init) {
    return std::unexpected(init.error().withContext(
        fmt::format("swarm init{} on {} ({})",
                    record.etcd.empty() ? "" : fmt::format(" --store {}", record.store),
                    manager.name, manager.address)));
  }
  record.managerAddress = fmt::format("{}:{}", manager.address, kClusterPort);
  if (record.hosts.size() == 1) {
    return {};
  }
  std::string workerToken;
  std::string managerToken;
  for (std::size_t i = 1; i < record.hosts.size(); ++i) {
    LabHost& worker = record.hosts[i];
    bool asManager = static_cast<int>(i) < managers;
    std::string& token = asManager ? managerToken : workerToken;
    if (token.empty()) {
      auto fetched = joinToken(manager, asManager ? "manager" : "worker");
      if (!fetched) {
        return std::unexpected(fetched.error());
      }
      token = *fetched;
    }
    worker.role = asManager ? "manager" : "worker";
    int httpStatus = 0;
    auto joined = callDaemon(worker, "POST", "/v1/swarm/join",
                             nlohmann::json{{"token", token},
                                            {"remoteAddress", record.managerAddress},
                                            {"advertiseAddr", worker.address}},
                             std::chrono::seconds(30), &httpStatus);
    if (!joined) {
      std::string hint =
          httpStatus == 404 && joined.error().message.find("no API route") != std::string::npos
              ? " (this overmeshd has no POST /v1/swarm/join; a one-host lab, --hosts 1, "
                "needs no join)"
              : "";
      return errorf(joined.error().kind, "{} ({}) could not join the manager at {}: {}{}",
                    worker.name, worker.address, record.managerAddress, joined.error().message,
                    hint);
    }
  }
  return {};
}

}  // namespace

Status checkStoreOptions(const LabOptions& options) {
  if (options.store != "sqlite" && options.store != "etcd") {
    return errorf(ErrorKind::InvalidArgument,
                  "--store \"{}\" is not a lab store: use sqlite (host 1's embedded store) or "
                  "etcd (3 etcd members in the lab)",
                  options.store);
  }
  if (options.managers < 1 || options.managers > options.hosts) {
    return errorf(ErrorKind::InvalidArgument,
                  "--managers {} is out of range: 1 to the number of hosts ({})", options.managers,
                  options.hosts);
  }
  if (options.managers > 1 && options.store != "etcd") {
    return errorf(ErrorKind::InvalidArgument,
                  "--managers {} needs --store etcd: several managers share their state through "
                  "etcd (the embedded store belongs to one manager)",
                  options.managers);
  }
  if (options.store == "etcd" &&
      (options.etcdPath.empty() || access(options.etcdPath.c_str(), X_OK) != 0)) {
    return errorf(ErrorKind::InvalidArgument,
                  "--store etcd: the etcd binary \"{}\" is not executable; install Debian's "
                  "etcd-server (scripts/setup.sh) or pass --etcd PATH",
                  options.etcdPath);
  }
  return {};
}

namespace {

Status build(const LabOptions& options, LabRecord& record) {
  std::error_code error;
  for (const auto& host : record.hosts) {
    fs::create_directories(host.stateDir, error);
    if (error) {
      return errorf(ErrorKind::Unavailable, "create {}: {}", host.stateDir, error.message());
    }
  }
  if (auto underlay = buildUnderlay(options.name); !underlay) {
    return underlay;
  }
  auto underlay = Netlink::open(record.underlayNamespace);
  if (!underlay) {
    return std::unexpected(underlay.error());
  }
  for (const auto& host : record.hosts) {
    if (auto built = buildHost(*underlay, host); !built) {
      return built;
    }
  }
  for (const auto& client : record.clients) {
    if (auto built = buildClient(*underlay, client); !built) {
      return built;
    }
  }
  // The etcd members first: host 1's `swarm init --store` needs their quorum.
  for (const auto& member : record.etcd) {
    if (auto built = buildEtcdMember(*underlay, member); !built) {
      return built;
    }
  }
  for (auto& member : record.etcd) {
    auto pid = startEtcdProcess(options.name, options.etcdPath, member, record.etcd);
    if (!pid) {
      return std::unexpected(pid.error());
    }
    member.pid = *pid;
  }
  if (auto healthy = waitForEtcd(record.etcd); !healthy) {
    return healthy;
  }
  DaemonLaunch launch = daemonLaunch(record, "");
  for (auto& host : record.hosts) {
    auto pid = startDaemon(launch, host);
    if (!pid) {
      return std::unexpected(pid.error());
    }
    host.pid = *pid;
    host.command = daemonArguments(launch, host);
  }
  for (const auto& host : record.hosts) {
    if (auto ready = waitForDaemon(host); !ready) {
      return ready;
    }
  }
  if (auto swarm = formSwarm(record, options.managers); !swarm) {
    return swarm;
  }
  return writeRecord(record);
}

// The recorded host `host` of lab `name`, for the commands that control one daemon.
Result<LabHost*> findHost(LabRecord& record, const std::string& name, const std::string& host) {
  auto index = resolveHost(name, host);
  if (!index) {
    return std::unexpected(index.error());
  }
  auto found = std::find_if(record.hosts.begin(), record.hosts.end(),
                            [&](const LabHost& candidate) { return candidate.index == *index; });
  if (found == record.hosts.end()) {
    return errorf(ErrorKind::NotFound, "lab \"{}\" has no host h{} (it has h1 to h{})", name,
                  *index, record.hosts.size());
  }
  return &*found;
}

Result<StopReport> stopLocked(LabRecord& record, const std::string& host, StopMode mode) {
  auto target = findHost(record, record.name, host);
  if (!target) {
    return std::unexpected(target.error());
  }
  StopReport report;
  report.host = **target;
  if (!daemonRuns(report.host)) {
    return report;
  }
  report.wasRunning = true;
  auto stopped = stopDaemonProcess(report.host, mode == StopMode::Kill ? SIGKILL : SIGTERM);
  if (!stopped) {
    return std::unexpected(stopped.error());
  }
  report.neededKill = *stopped;
  return report;
}

Result<LabHost> startLocked(LabRecord& record, const std::string& host,
                            const std::string& overmeshdPath) {
  auto target = findHost(record, record.name, host);
  if (!target) {
    return std::unexpected(target.error());
  }
  LabHost& chosen = **target;
  if (daemonRuns(chosen)) {
    return errorf(ErrorKind::Conflict,
                  "the daemon of {} already runs (pid {}); use `overmesh lab restart --name {} "
                  "{}` to restart it",
                  chosen.namespaceName, chosen.pid, record.name, chosen.index);
  }
  DaemonLaunch launch = daemonLaunch(record, overmeshdPath);
  if (launch.overmeshdPath.empty() || access(launch.overmeshdPath.c_str(), X_OK) != 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "overmeshd binary \"{}\" is not executable; pass --overmeshd PATH",
                  launch.overmeshdPath);
  }
  auto pid = startDaemon(launch, chosen);
  if (!pid) {
    return std::unexpected(pid.error());
  }
  chosen.pid = *pid;
  chosen.command = daemonArguments(launch, chosen);
  // Recorded before waiting, so that a daemon that starts but never answers is still
  // found by status and stop.
  if (auto written = writeRecord(record); !written) {
    return std::unexpected(written.error());
  }
  if (auto ready = waitForDaemon(chosen); !ready) {
    return std::unexpected(ready.error());
  }
  return chosen;
}

// Lab `name`'s record, read while holding its lock, for the commands that control one
// daemon: two of them on one lab then run one after the other, each seeing the pids the
// previous one recorded.
struct LockedRecord {
  RecordLock lock;
  LabRecord record;
};

Result<LockedRecord> lockRecord(const std::string& name, const std::string& givenRunDir) {
  if (auto valid = validateLabName(name); !valid) {
    return std::unexpected(valid.error());
  }
  std::string runDir = absoluteRunDir(givenRunDir);
  // Read once before locking for the clear "no lab" errors, then again under the lock.
  if (auto record = readRecord(runDir, name); !record) {
    return std::unexpected(record.error());
  }
  auto lock = RecordLock::acquire(runDir, name);
  if (!lock) {
    return std::unexpected(lock.error());
  }
  auto record = readRecord(runDir, name);
  if (!record) {
    return std::unexpected(record.error());
  }
  record->runDir = runDir;
  return LockedRecord{std::move(*lock), std::move(*record)};
}

// The network namespace of lab member `namespaceName` (`what`: "h2", "c1"), with errors
// that say whether the lab or only that member is missing.
Result<kernel::UniqueFd> openMember(const std::string& name, const std::string& namespaceName,
                                    const std::string& what) {
  auto netns = kernel::openNamespace(namespaceName);
  if (netns || netns.error().kind != ErrorKind::NotFound) {
    return netns;
  }
  auto namespaces = labNamespaces(name);
  if (namespaces && namespaces->empty()) {
    return errorf(ErrorKind::NotFound,
                  "no lab named \"{}\"; create one with `overmesh lab up --name {}`", name, name);
  }
  bool client = what.starts_with("c");
  return errorf(ErrorKind::NotFound, "lab \"{}\" has no {} {}{} (namespaces: {})", name,
                client ? "client" : "host", what,
                client ? fmt::format("; add clients with `overmesh lab up --clients N`") : "",
                namespaces ? fmt::format("{}", fmt::join(*namespaces, ", ")) : "?");
}

// `lab exec` in a client: its network namespace only (it has no UTS pin: no daemon ever
// ran there), and an OVERMESH_HOST that reaches no daemon, because a client is outside the
// cluster (see exec() in lab.h).
Result<int> execInClient(const std::string& name, const std::string& runDir,
                         const LabClient& client, const std::vector<std::string>& argv) {
  auto netns = openMember(name, client.namespaceName, client.name);
  if (!netns) {
    return std::unexpected(netns.error());
  }
  std::vector<std::string> env = childEnvironment(
      {fmt::format("OVERMESH_HOST=unix://{}/not-a-cluster-member.sock", client.dir),
       fmt::format("{}={}", kLabMarkVariable, name), fmt::format("OVERMESH_LAB_DIR={}", runDir),
       fmt::format("OVERMESH_LAB_CLIENT={}", client.name),
       fmt::format("OVERMESH_LAB_CLIENT_DIR={}", client.dir)});
  return runInNamespaces(netns->get(), -1, client.namespaceName, argv, std::move(env));
}

}  // namespace

Status validateLabName(const std::string& name) {
  bool valid = !name.empty() && name.size() <= 8 &&
               std::all_of(name.begin(), name.end(),
                           [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
  if (!valid) {
    return errorf(ErrorKind::InvalidArgument,
                  "invalid lab name \"{}\": use 1-8 lower-case letters or digits (e.g. om, lab2), "
                  "so that its namespaces (\"<name>-h50\") fit in device-sized names",
                  name);
  }
  return {};
}

Result<LabRecord> up(const LabOptions& given) {
  LabOptions options = given;
  options.runDir = absoluteRunDir(options.runDir);
  if (auto valid = validateLabName(options.name); !valid) {
    return std::unexpected(valid.error());
  }
  if (options.hosts < 1 || options.hosts > kMaxHosts) {
    return errorf(ErrorKind::InvalidArgument, "--hosts {} is out of range: a lab has 1 to {} hosts",
                  options.hosts, kMaxHosts);
  }
  if (options.clients < 0 || options.clients > kMaxClients) {
    return errorf(ErrorKind::InvalidArgument,
                  "--clients {} is out of range: a lab has 0 to {} clients (198.18.0.101 to "
                  "198.18.0.{})",
                  options.clients, kMaxClients, kClientAddressOffset + kMaxClients);
  }
  if (auto checked = checkStoreOptions(options); !checked) {
    return std::unexpected(checked.error());
  }
  std::vector<std::string> unitCommand;
  if (!options.unitPath.empty()) {
    if (!options.overmeshdPath.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--unit {} and --overmeshd {} both name the daemon binary (the unit's "
                    "ExecStart= starts with it): give one of them",
                    options.unitPath, options.overmeshdPath);
    }
    auto command = readUnitExecStart(options.unitPath);
    if (!command) {
      return std::unexpected(command.error().withContext("--unit"));
    }
    unitCommand = std::move(*command);
    options.overmeshdPath = unitCommand.front();
  }
  if (options.overmeshdPath.empty() || access(options.overmeshdPath.c_str(), X_OK) != 0) {
    std::string why = options.overmeshdPath.empty() ? "" : fmt::format(" ({})", errnoText(errno));
    if (!unitCommand.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "overmeshd binary \"{}\" (the program of ExecStart= in {}) is not "
                    "executable{}; install it or point the unit at one",
                    options.overmeshdPath, options.unitPath, why);
    }
    return errorf(ErrorKind::InvalidArgument,
                  "overmeshd binary \"{}\" is not executable{}; pass --overmeshd PATH or set "
                  "OVERMESHD",
                  options.overmeshdPath, why);
  }

  LabRecord record;
  record.name = options.name;
  record.runDir = options.runDir;
  record.underlayNamespace = underlayNamespace(options.name);
  std::error_code absoluteError;
  fs::path daemonPath = fs::absolute(options.overmeshdPath, absoluteError);
  record.overmeshdPath =
      absoluteError ? options.overmeshdPath : daemonPath.lexically_normal().string();
  record.logLevel = options.logLevel;
  if (!unitCommand.empty()) {
    std::error_code unitError;
    fs::path unitPath = fs::absolute(options.unitPath, unitError);
    record.unitPath = unitError ? options.unitPath : unitPath.lexically_normal().string();
    record.unitCommand = std::move(unitCommand);
  }
  for (int i = 1; i <= options.hosts; ++i) {
    record.hosts.push_back(describeHost(options.runDir, options.name, i));
  }
  for (int i = 1; i <= options.clients; ++i) {
    record.clients.push_back(describeClient(options.runDir, options.name, i));
  }
  if (options.store == "etcd") {
    for (int i = 1; i <= kEtcdMembers; ++i) {
      record.etcd.push_back(describeEtcdMember(options.runDir, options.name, i));
    }
    record.store = etcdStoreUrl(record.etcd);
    record.etcdPath = options.etcdPath;
  }
  if (record.hosts.back().socketPath.size() > kMaxSocketPath) {
    return errorf(ErrorKind::InvalidArgument,
                  "run directory {} is too long: socket paths like {} exceed {} bytes",
                  options.runDir, record.hosts.back().socketPath, kMaxSocketPath);
  }

  auto existing = labNamespaces(options.name);
  if (!existing) {
    return std::unexpected(existing.error());
  }
  std::string dir = labDir(options.runDir, options.name);
  if (!existing->empty() || fs::exists(dir)) {
    return errorf(
        ErrorKind::Conflict,
        "a lab named \"{}\" already exists ({}); remove it first with `overmesh lab "
        "down --name {}`",
        options.name,
        existing->empty() ? dir : fmt::format("namespaces {}", fmt::join(*existing, ", ")),
        options.name);
  }

  if (auto built = build(options, record); !built) {
    Error failure = built.error().withContext(fmt::format("lab up \"{}\"", options.name));
    auto cleaned = down(options.name, options.runDir);
    if (!cleaned) {
      failure.message += fmt::format("; cleaning up also failed: {}", cleaned.error().message);
    }
    return std::unexpected(failure);
  }
  return record;
}

Result<DownReport> down(const std::string& name, const std::string& givenRunDir) {
  if (auto valid = validateLabName(name); !valid) {
    return std::unexpected(valid.error());
  }
  std::string runDir = absoluteRunDir(givenRunDir);
  DownReport report;
  std::vector<std::string> failures;

  // Kill before deleting: a namespace whose file is gone lives on while a process is in it.
  // A process may start another while we stop it, and a daemon being stopped may still
  // make a task's sandbox namespace: look again, namespaces and processes, until a round
  // finds neither anything new to kill nor a namespace not seen before.
  std::set<std::string> namespaces;
  std::set<NamespaceId> ids;
  std::vector<pid_t> survivors;
  for (int round = 0; round < kKillRounds; ++round) {
    auto listed = labNamespaces(name);
    if (!listed) {
      return std::unexpected(listed.error());
    }
    bool newNamespace = false;
    for (const auto& ns : *listed) {
      if (namespaces.insert(ns).second) {
        newNamespace = true;
        if (auto id = kernel::namespaceIdOf(kernel::namespacePath(ns)); id) {
          ids.insert(*id);
        }
      }
    }
    std::vector<pid_t> found = findLabProcesses(ids, name);
    std::erase_if(found, [&](pid_t pid) {
      return std::find(survivors.begin(), survivors.end(), pid) != survivors.end();
    });
    if (found.empty() && !newNamespace) {
      break;
    }
    report.processes.insert(report.processes.end(), found.begin(), found.end());
    auto left = terminate(found, report);
    survivors.insert(survivors.end(), left.begin(), left.end());
  }
  for (pid_t survivor : survivors) {
    failures.push_back(fmt::format("process {} did not exit after SIGKILL", survivor));
  }
  for (const auto& ns : namespaces) {
    if (auto removed = kernel::deleteNamespace(ns); !removed) {
      failures.push_back(removed.error().message);
      continue;
    }
    report.namespaces.push_back(ns);
  }

  std::string dir = labDir(runDir, name);
  if (fs::exists(dir)) {
    // Image tasks: their conmons and containers, and the overlay mounts that would keep
    // the directory from being removed.
    report.killed += sweepContainersUnder(dir);
    auto runRoots = removeShortRunRoots(dir);
    failures.insert(failures.end(), runRoots.begin(), runRoots.end());
    auto unpinned = unpinUtsNamespaces(dir);
    failures.insert(failures.end(), unpinned.begin(), unpinned.end());
    std::error_code error;
    fs::remove_all(dir, error);
    if (error) {
      failures.push_back(fmt::format("remove {}: {}", dir, error.message()));
    } else {
      report.removedRunDir = true;
    }
  }
  if (!failures.empty()) {
    return errorf(ErrorKind::Unavailable, "lab down \"{}\": {}", name, fmt::join(failures, "; "));
  }
  return report;
}

Result<LabStatus> status(const std::string& name, const std::string& givenRunDir) {
  if (auto valid = validateLabName(name); !valid) {
    return std::unexpected(valid.error());
  }
  auto record = readRecord(absoluteRunDir(givenRunDir), name);
  if (!record) {
    return std::unexpected(record.error());
  }
  LabStatus result;
  result.name = record->name;
  result.unitPath = record->unitPath;
  for (const auto& host : record->hosts) {
    LabHostStatus hostStatus;
    hostStatus.host = host;
    hostStatus.daemonAlive = daemonRuns(host);
    result.hosts.push_back(std::move(hostStatus));
  }
  for (const auto& client : record->clients) {
    result.clients.push_back(
        LabClientStatus{client, kernel::openNamespace(client.namespaceName).has_value()});
  }
  for (const auto& member : record->etcd) {
    LabEtcdStatus memberStatus;
    memberStatus.member = member;
    memberStatus.alive = etcdRuns(member);
    if (auto healthy = etcdHealth(member, std::chrono::seconds(1)); healthy) {
      memberStatus.healthy = true;
    } else {
      memberStatus.error = healthy.error().message;
    }
    result.etcd.push_back(std::move(memberStatus));
  }
  // The first manager whose daemon runs: with several, host 1 may be the one killed.
  const LabHost* asked = &record->hosts.front();
  for (const auto& hostStatus : result.hosts) {
    if (hostStatus.host.role == "manager" && hostStatus.daemonAlive) {
      asked = &hostStatus.host;
      break;
    }
  }
  result.askedManager = asked->name;
  auto nodes = callDaemon(*asked, "GET", "/v1/nodes", nullptr, std::chrono::seconds(3));
  if (!nodes) {
    result.managerError = nodes.error().message;
    return result;
  }
  if (!nodes->is_array()) {
    result.managerError = "GET /v1/nodes did not return a list";
    return result;
  }
  for (auto& hostStatus : result.hosts) {
    for (const auto& node : *nodes) {
      if (!node.is_object()) {
        continue;
      }
      std::string address = node.value("address", "");
      address = address.substr(0, address.find(':'));
      if (address == hostStatus.host.address) {
        hostStatus.nodeState = node.value("state", "");
        hostStatus.nodeRole = node.value("role", "");
      }
    }
  }
  return result;
}

bool namesEtcdMember(const std::string& name, const std::string& target) {
  return (target.starts_with("etcd") && hostIndexOf(name, target) == 0) ||
         etcdIndexOf(name, target) > 0;
}

Result<std::pair<LabEtcdMember, bool>> stopEtcd(const std::string& name, const std::string& member,
                                                StopMode mode, const std::string& givenRunDir) {
  auto index = resolveEtcdMember(name, member);
  if (!index) {
    return std::unexpected(index.error());
  }
  auto locked = lockRecord(name, givenRunDir);
  if (!locked) {
    return std::unexpected(locked.error());
  }
  auto& members = locked->record.etcd;
  if (members.size() < static_cast<std::size_t>(*index)) {
    return errorf(ErrorKind::NotFound, "lab \"{}\" has no etcd member {} (made with --store {})",
                  name, member, locked->record.store);
  }
  LabEtcdMember chosen = members[*index - 1];
  if (!etcdRuns(chosen)) {
    return std::pair{chosen, false};
  }
  if (kill(chosen.pid, mode == StopMode::Kill ? SIGKILL : SIGTERM) != 0 && errno != ESRCH) {
    return errorf(ErrorKind::Unavailable, "signal etcd in {} (pid {}): {}", chosen.namespaceName,
                  chosen.pid, errnoText(errno));
  }
  if (!waitGone({chosen.pid}, kDaemonStopGrace).empty()) {
    kill(chosen.pid, SIGKILL);
    if (!waitGone({chosen.pid}, kKillGrace).empty()) {
      return errorf(ErrorKind::Unavailable, "etcd in {} (pid {}) survives SIGKILL",
                    chosen.namespaceName, chosen.pid);
    }
  }
  return std::pair{chosen, true};
}

Result<LabEtcdMember> startEtcd(const std::string& name, const std::string& member,
                                const std::string& givenRunDir) {
  auto index = resolveEtcdMember(name, member);
  if (!index) {
    return std::unexpected(index.error());
  }
  auto locked = lockRecord(name, givenRunDir);
  if (!locked) {
    return std::unexpected(locked.error());
  }
  auto& record = locked->record;
  if (record.etcd.size() < static_cast<std::size_t>(*index)) {
    return errorf(ErrorKind::NotFound, "lab \"{}\" has no etcd member {} (made with --store {})",
                  name, member, record.store);
  }
  LabEtcdMember& chosen = record.etcd[*index - 1];
  if (etcdRuns(chosen)) {
    return errorf(ErrorKind::Conflict, "etcd member {} of lab \"{}\" already runs (pid {})",
                  chosen.name, name, chosen.pid);
  }
  auto pid = startEtcdProcess(name, record.etcdPath.empty() ? kDefaultEtcdPath : record.etcdPath,
                              chosen, record.etcd);
  if (!pid) {
    return std::unexpected(pid.error());
  }
  chosen.pid = *pid;
  if (auto written = writeRecord(record); !written) {
    return std::unexpected(written.error());
  }
  if (auto healthy = waitForEtcd({chosen}); !healthy) {
    return std::unexpected(healthy.error());
  }
  return chosen;
}

Result<int> exec(const std::string& name, const std::string& host,
                 const std::vector<std::string>& argv, const std::string& givenRunDir) {
  if (auto valid = validateLabName(name); !valid) {
    return std::unexpected(valid.error());
  }
  if (argv.empty()) {
    return errorf(ErrorKind::InvalidArgument, "lab exec: no command given");
  }
  auto target = resolveExecTarget(name, host);
  if (!target) {
    return std::unexpected(target.error());
  }
  std::string runDir = absoluteRunDir(givenRunDir);
  if (target->client) {
    return execInClient(name, runDir, describeClient(runDir, name, target->index), argv);
  }
  LabHost chosen = describeHost(runDir, name, target->index);
  auto netns = openMember(name, chosen.namespaceName, chosen.name);
  if (!netns) {
    return std::unexpected(netns.error());
  }
  // The UTS pin exists once the daemon started; without it the command keeps our hostname.
  auto uts = openPinnedUts(hostDir(chosen));
  std::vector<std::string> env = childEnvironment(
      {fmt::format("OVERMESH_HOST=unix://{}", chosen.socketPath),
       fmt::format("{}={}", kLabMarkVariable, name), fmt::format("OVERMESH_LAB_DIR={}", runDir)});
  return runInNamespaces(netns->get(), uts.get(), chosen.namespaceName, argv, std::move(env));
}

Result<StopReport> stop(const std::string& name, const std::string& host, StopMode mode,
                        const std::string& givenRunDir) {
  auto locked = lockRecord(name, givenRunDir);
  if (!locked) {
    return std::unexpected(locked.error());
  }
  return stopLocked(locked->record, host, mode);
}

Result<LabHost> start(const std::string& name, const std::string& host,
                      const std::string& givenRunDir, const std::string& overmeshdPath) {
  auto locked = lockRecord(name, givenRunDir);
  if (!locked) {
    return std::unexpected(locked.error());
  }
  return startLocked(locked->record, host, overmeshdPath);
}

Result<LabHost> restart(const std::string& name, const std::string& host, StopMode mode,
                        const std::string& givenRunDir, const std::string& overmeshdPath) {
  auto locked = lockRecord(name, givenRunDir);
  if (!locked) {
    return std::unexpected(locked.error());
  }
  if (auto stopped = stopLocked(locked->record, host, mode); !stopped) {
    return std::unexpected(stopped.error());
  }
  return startLocked(locked->record, host, overmeshdPath);
}

}  // namespace overmesh::lab
