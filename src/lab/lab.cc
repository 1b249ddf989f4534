#include "lab/lab.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "api/api_error.h"
#include "api/http_client.h"
#include "common/ip.h"
#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"

extern char** environ;

namespace overmesh::lab {
namespace {

namespace fs = std::filesystem;
using dataplane::kernel::NamespaceId;
using dataplane::kernel::Netlink;
using dataplane::kernel::UniqueFd;
namespace kernel = dataplane::kernel;

constexpr const char* kUnderlayBridge = "br0";
constexpr unsigned int kUnderlayMtu = 1500;
constexpr int kUnderlayPrefixLength = 24;
// 198.18.0.0/15 is reserved for benchmarking (RFC 2544); host i is 198.18.0.<i>.
constexpr std::uint32_t kUnderlayBase = 0xc6120000;
// Every lab daemon and every `lab exec` command carries OVERMESH_LAB=<name>, and so do the
// processes they start unless they clear their environment: down() finds them by it even
// when they live in namespaces of their own (task sandboxes).
constexpr const char* kLabMarkVariable = "OVERMESH_LAB";
constexpr auto kDaemonStartTimeout = std::chrono::seconds(10);
constexpr auto kTermGrace = std::chrono::seconds(5);
constexpr auto kKillGrace = std::chrono::seconds(2);
constexpr int kKillRounds = 3;
// sun_path holds 108 bytes including the terminating NUL.
constexpr std::size_t kMaxSocketPath = 107;

// ---- names and paths ------------------------------------------------------------------

std::string labDir(const std::string& runDir, const std::string& name) {
  return (fs::path(runDir) / name).string();
}

std::string underlayNamespace(const std::string& name) { return name + "-ul"; }

std::string hostNamespace(const std::string& name, int index) {
  return fmt::format("{}-h{}", name, index);
}

Ipv4Address hostAddress(int index) {
  return Ipv4Address::fromValue(kUnderlayBase + static_cast<std::uint32_t>(index));
}

std::string recordPath(const std::string& runDir, const std::string& name) {
  return labDir(runDir, name) + "/lab.json";
}

std::string utsPinPath(const std::string& hostDir) { return hostDir + "/uts"; }

std::string absoluteRunDir(const std::string& runDir) {
  std::error_code error;
  fs::path absolute = fs::absolute(runDir.empty() ? kDefaultRunDir : runDir, error);
  return error ? runDir : absolute.lexically_normal().string();
}

LabHost describeHost(const std::string& runDir, const std::string& name, int index) {
  std::string hostDir = fmt::format("{}/h{}", labDir(runDir, name), index);
  LabHost host;
  host.index = index;
  host.name = fmt::format("h{}", index);
  host.namespaceName = hostNamespace(name, index);
  host.address = hostAddress(index).toString();
  host.socketPath = hostDir + "/overmesh.sock";
  host.stateDir = hostDir + "/state";
  host.logPath = hostDir + "/overmeshd.log";
  host.role = index == 1 ? "manager" : "worker";
  return host;
}

// The host index in "<name>-h<i>", or 0 when `candidate` is not a host of lab `name`.
int hostIndexOf(const std::string& name, std::string_view candidate) {
  std::string prefix = name + "-h";
  if (!candidate.starts_with(prefix) || candidate.size() == prefix.size() ||
      candidate.size() > prefix.size() + 2) {
    return 0;
  }
  int index = 0;
  for (char c : candidate.substr(prefix.size())) {
    if (c < '0' || c > '9') {
      return 0;
    }
    index = index * 10 + (c - '0');
  }
  return index;
}

// Only "<name>-ul" and "<name>-h<digits>": a lab never claims someone else's namespace
// that merely shares the prefix.
bool isLabNamespace(const std::string& name, std::string_view candidate) {
  return candidate == underlayNamespace(name) || hostIndexOf(name, candidate) > 0;
}

Result<std::vector<std::string>> labNamespaces(const std::string& name) {
  auto all = kernel::listNamespaces(name + "-");
  if (!all) {
    return std::unexpected(all.error());
  }
  std::vector<std::string> ours;
  for (const auto& candidate : *all) {
    if (isLabNamespace(name, candidate)) {
      ours.push_back(candidate);
    }
  }
  return ours;
}

// ---- files ----------------------------------------------------------------------------

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// The last `lines` lines of a daemon's log, to explain why it did not come up.
std::string logTail(const std::string& path, std::size_t lines = 15) {
  std::string text = readFile(path);
  std::vector<std::string> all;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    all.push_back(line);
  }
  std::size_t from = all.size() > lines ? all.size() - lines : 0;
  std::string tail;
  for (std::size_t i = from; i < all.size(); ++i) {
    tail += "\n  | " + all[i];
  }
  return tail.empty() ? fmt::format(" (log {} is empty)", path)
                      : fmt::format("; last lines of {}:{}", path, tail);
}

// Writes `content` to `path` through a temporary file and rename(), so that a reader sees
// the old file or the new one, never half of one.
Status writeFileAtomically(const std::string& path, const std::string& content) {
  std::string temporary = path + ".tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return errorf(ErrorKind::Unavailable, "write {}: {}", temporary, errnoText(errno));
  }
  UniqueFd file(fd);
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      unlink(temporary.c_str());
      return errorf(ErrorKind::Unavailable, "write {}: {}", temporary, errnoText(err));
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    unlink(temporary.c_str());
    return errorf(ErrorKind::Unavailable, "fsync {}: {}", temporary, errnoText(err));
  }
  file.reset();
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temporary.c_str());
    return errorf(ErrorKind::Unavailable, "rename {} to {}: {}", temporary, path, errnoText(err));
  }
  return {};
}

Result<LabRecord> readRecord(const std::string& runDir, const std::string& name) {
  std::string path = recordPath(runDir, name);
  if (!fs::exists(path)) {
    auto namespaces = labNamespaces(name);
    if (namespaces && !namespaces->empty()) {
      return errorf(ErrorKind::FailedPrecondition,
                    "lab \"{}\" has namespaces ({}) but no {}: it was not completely built or "
                    "its record was removed; run `overmesh lab down --name {}`",
                    name, fmt::join(*namespaces, ", "), path, name);
    }
    return errorf(ErrorKind::NotFound,
                  "no lab named \"{}\" (no {}); create one with `overmesh lab up --name {}`", name,
                  path, name);
  }
  try {
    auto record = nlohmann::json::parse(readFile(path)).get<LabRecord>();
    if (record.hosts.empty()) {
      return errorf(ErrorKind::FailedPrecondition, "{} lists no hosts", path);
    }
    return record;
  } catch (const nlohmann::json::exception& error) {
    return errorf(ErrorKind::FailedPrecondition,
                  "{} is damaged ({}); run `overmesh lab down --name {}` and build the lab again",
                  path, error.what(), name);
  }
}

// ---- processes --------------------------------------------------------------------------

// The environment of a child: ours, with `overrides` (NAME=value) replacing any entry of
// the same name.
std::vector<std::string> childEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    bool replaced = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) {
      auto equals = o.find('=');
      return text.starts_with(std::string_view(o).substr(0, equals + 1));
    });
    if (!replaced) {
      env.emplace_back(text);
    }
  }
  env.insert(env.end(), overrides.begin(), overrides.end());
  return env;
}

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) {
    pointers.push_back(text.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Restores what a child must not inherit from the CLI: a blocked or ignored SIGINT,
// SIGTERM or SIGPIPE would make the daemon or the command unstoppable or odd.
void resetSignalsInChild() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signal : {SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) {
    ::signal(signal, SIG_DFL);
  }
}

// True when `pid` does not run: absent from /proc, or a zombie waiting for a parent that
// does not reap (PID 1 in some containers). Never reaps, so it is safe on any pid.
bool processGone(pid_t pid) {
  std::string stat = readFile(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos || close + 2 >= stat.size()) {
    return true;
  }
  char state = stat[close + 2];
  return state == 'Z' || state == 'X';
}

// processGone() for a pid this process may have forked (a daemon during `lab up`): reaps
// it if it is our exited child, so that it does not linger as our zombie.
bool reapedOrGone(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) {
    return true;
  }
  return processGone(pid);
}

pid_t parentOf(pid_t pid) {
  std::string stat = readFile(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(stat.substr(close + 2));
  char state = 0;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

// This process and its ancestors: `lab down` run from a shell inside the lab (lab exec
// bash) must not kill itself or that shell.
std::set<pid_t> selfAndAncestors() {
  std::set<pid_t> chain;
  for (pid_t pid = getpid(); pid > 1 && chain.insert(pid).second;) {
    pid = parentOf(pid);
  }
  return chain;
}

bool carriesLabMark(pid_t pid, const std::string& name) {
  std::string environment = readFile(fmt::format("/proc/{}/environ", pid));
  if (environment.empty()) {
    return false;
  }
  std::string needle = fmt::format("{}={}", kLabMarkVariable, name);
  needle.push_back('\0');
  std::string haystack;
  haystack.push_back('\0');
  haystack += environment;
  if (haystack.back() != '\0') {
    haystack.push_back('\0');
  }
  return haystack.find(std::string(1, '\0') + needle) != std::string::npos;
}

// Every process in one of `namespaces`, or carrying the lab's mark, except us.
std::vector<pid_t> findLabProcesses(const std::set<NamespaceId>& namespaces,
                                    const std::string& name) {
  std::set<pid_t> spared = selfAndAncestors();
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string file = entry.path().filename().string();
    if (file.empty() || !std::all_of(file.begin(), file.end(), ::isdigit)) {
      continue;
    }
    pid_t pid = std::stoi(file);
    if (spared.contains(pid) || processGone(pid)) {
      continue;
    }
    auto id = kernel::namespaceIdOf(fmt::format("/proc/{}/ns/net", pid));
    if ((id && namespaces.contains(*id)) || carriesLabMark(pid, name)) {
      found.push_back(pid);
    }
  }
  return found;
}

// Waits until every pid in `pids` is gone or `timeout` passes; returns those still there.
std::vector<pid_t> waitGone(std::vector<pid_t> pids, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::erase_if(pids, reapedOrGone);
    if (pids.empty() || std::chrono::steady_clock::now() >= deadline) {
      return pids;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// SIGTERM, a grace period, then SIGKILL. Returns the pids that survived even SIGKILL.
std::vector<pid_t> terminate(const std::vector<pid_t>& pids, DownReport& report) {
  for (pid_t pid : pids) {
    kill(pid, SIGTERM);
  }
  auto remaining = waitGone(pids, kTermGrace);
  for (pid_t pid : remaining) {
    kill(pid, SIGKILL);
  }
  report.killed += static_cast<int>(remaining.size());
  return waitGone(remaining, kKillGrace);
}

// ---- building -------------------------------------------------------------------------

Status buildUnderlay(const std::string& name) {
  std::string underlay = underlayNamespace(name);
  if (auto made = kernel::createNamespace(underlay); !made) {
    return made;
  }
  auto netlink = Netlink::open(underlay);
  if (!netlink) {
    return std::unexpected(netlink.error());
  }
  if (auto bridge = netlink->createBridge(kUnderlayBridge, kUnderlayMtu); !bridge) {
    return bridge;
  }
  return netlink->setUp(kUnderlayBridge);
}

// Host namespace, veth pair h<i> (underlay, on br0) <-> eth0 (host), address, links up.
Status buildHost(Netlink& underlay, const LabHost& host) {
  if (auto made = kernel::createNamespace(host.namespaceName); !made) {
    return made;
  }
  auto hostFd = kernel::openNamespace(host.namespaceName);
  if (!hostFd) {
    return std::unexpected(hostFd.error());
  }
  if (auto pair = underlay.createVethPair(host.name, "eth0", hostFd->get(), kUnderlayMtu); !pair) {
    return pair;
  }
  if (auto port = underlay.setMaster(host.name, kUnderlayBridge); !port) {
    return port;
  }
  if (auto up = underlay.setUp(host.name); !up) {
    return up;
  }
  auto netlink = Netlink::open(host.namespaceName);
  if (!netlink) {
    return std::unexpected(netlink.error());
  }
  if (auto lo = netlink->setUp("lo"); !lo) {
    return lo;
  }
  auto prefix = Ipv4Prefix::fromParts(Ipv4Address::parse(host.address).value_or(Ipv4Address()),
                                      kUnderlayPrefixLength);
  if (!prefix) {
    return std::unexpected(prefix.error());
  }
  if (auto address = netlink->addAddress("eth0", *prefix); !address) {
    return address;
  }
  return netlink->setUp("eth0");
}

// What the child reports through the close-on-exec pipe when a step before exec fails.
struct ChildFailure {
  int step = 0;
  int error = 0;
};

constexpr const char* kChildSteps[] = {"",
                                       "enter the host's network namespace",
                                       "create a UTS namespace",
                                       "set the hostname",
                                       "start a session",
                                       "redirect output",
                                       "exec"};

// Forks overmeshd into the host: network namespace of the host, a UTS namespace of its own
// with hostname <lab>-h<i>, its own session (so the CLI's terminal does not signal it),
// output to its log. Returns its pid once exec succeeded, and pins its UTS namespace so
// that `lab exec` sees the same hostname.
Result<pid_t> startDaemon(const LabOptions& options, const LabHost& host) {
  std::string hostDir = fs::path(host.socketPath).parent_path().string();
  std::string what = fmt::format("start overmeshd in {}", host.namespaceName);
  auto netns = kernel::openNamespace(host.namespaceName);
  if (!netns) {
    return std::unexpected(netns.error().withContext(what));
  }
  int logFd = open(host.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) {
    return errorf(ErrorKind::Unavailable, "{}: open {}: {}", what, host.logPath, errnoText(errno));
  }
  UniqueFd log(logFd);
  int nullFd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nullFd < 0) {
    return errorf(ErrorKind::Unavailable, "{}: open /dev/null: {}", what, errnoText(errno));
  }
  UniqueFd devNull(nullFd);
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    return errorf(ErrorKind::Unavailable, "{}: pipe: {}", what, errnoText(errno));
  }
  UniqueFd readEnd(pipeFds[0]);
  UniqueFd writeEnd(pipeFds[1]);

  std::vector<std::string> args = {options.overmeshdPath,
                                   "--socket",
                                   host.socketPath,
                                   "--state-dir",
                                   host.stateDir,
                                   "--cluster-port",
                                   std::to_string(kClusterPort),
                                   "--log-level",
                                   options.logLevel};
  std::vector<std::string> env =
      childEnvironment({fmt::format("{}={}", kLabMarkVariable, options.name)});
  std::vector<char*> argv = cStrings(args);
  std::vector<char*> envp = cStrings(env);
  const std::string& hostname = host.namespaceName;

  pid_t pid = fork();
  if (pid < 0) {
    return errorf(ErrorKind::Unavailable, "{}: fork: {}", what, errnoText(errno));
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    auto fail = [&](int step) {
      ChildFailure failure{step, errno};
      [[maybe_unused]] auto n = write(writeEnd.get(), &failure, sizeof(failure));
      _exit(127);
    };
    if (setns(netns->get(), CLONE_NEWNET) != 0) {
      fail(1);
    }
    if (unshare(CLONE_NEWUTS) != 0) {
      fail(2);
    }
    if (sethostname(hostname.c_str(), hostname.size()) != 0) {
      fail(3);
    }
    if (setsid() < 0) {
      fail(4);
    }
    if (dup2(devNull.get(), STDIN_FILENO) < 0 || dup2(log.get(), STDOUT_FILENO) < 0 ||
        dup2(log.get(), STDERR_FILENO) < 0) {
      fail(5);
    }
    [[maybe_unused]] int ignored = chdir("/");
    // Descriptors the CLI inherited without close-on-exec must not outlive it in a daemon.
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    resetSignalsInChild();
    execve(argv[0], argv.data(), envp.data());
    fail(6);
  }

  writeEnd.reset();
  ChildFailure failure;
  ssize_t n = 0;
  do {
    n = read(readEnd.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    waitpid(pid, &status, 0);
    const char* step = failure.step > 0 && failure.step < 7 ? kChildSteps[failure.step] : "?";
    return errorf(ErrorKind::Unavailable, "{}: {} ({}): {}", what, step,
                  failure.step == 6 ? options.overmeshdPath : host.namespaceName,
                  errnoText(failure.error));
  }

  // Pin the daemon's UTS namespace so that `lab exec` can join it after the fact.
  std::string pin = utsPinPath(hostDir);
  int pinFd = open(pin.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (pinFd < 0) {
    return errorf(ErrorKind::Unavailable, "{}: create {}: {}", what, pin, errnoText(errno));
  }
  close(pinFd);
  std::string source = fmt::format("/proc/{}/ns/uts", pid);
  if (mount(source.c_str(), pin.c_str(), "none", MS_BIND, nullptr) != 0) {
    int err = errno;
    if (reapedOrGone(pid)) {
      return errorf(ErrorKind::Unavailable, "{}: overmeshd exited right away{}", what,
                    logTail(host.logPath));
    }
    return errorf(ErrorKind::Unavailable, "{}: bind-mount {} onto {}: {}", what, source, pin,
                  errnoText(err));
  }
  return pid;
}

Status waitForDaemon(const LabHost& host) {
  auto client = api::HttpClient::create("unix://" + host.socketPath);
  if (!client) {
    return std::unexpected(client.error());
  }
  auto deadline = std::chrono::steady_clock::now() + kDaemonStartTimeout;
  std::string lastError = "no answer yet";
  while (true) {
    if (reapedOrGone(host.pid)) {
      return errorf(ErrorKind::Unavailable, "overmeshd in {} (pid {}) exited during startup{}",
                    host.namespaceName, host.pid, logTail(host.logPath));
    }
    auto response = (*client)->request("GET", "/v1/version", "", std::chrono::seconds(1));
    if (response && api::isSuccess(*response)) {
      return {};
    }
    lastError = response ? fmt::format("HTTP {}", response->status) : response.error().message;
    if (std::chrono::steady_clock::now() >= deadline) {
      return errorf(ErrorKind::Unavailable,
                    "overmeshd in {} (pid {}) did not answer on {} within {} s ({}){}",
                    host.namespaceName, host.pid, host.socketPath,
                    std::chrono::seconds(kDaemonStartTimeout).count(), lastError,
                    logTail(host.logPath));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// One JSON request to a host's daemon; a non-2xx answer becomes its typed error.
Result<nlohmann::json> callDaemon(const LabHost& host, const std::string& method,
                                  const std::string& path, const nlohmann::json& body,
                                  std::chrono::milliseconds timeout, int* statusOut = nullptr) {
  auto client = api::HttpClient::create("unix://" + host.socketPath);
  if (!client) {
    return std::unexpected(client.error());
  }
  auto response = (*client)->request(method, path, body.is_null() ? "" : body.dump(), timeout);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (statusOut != nullptr) {
    *statusOut = response->status;
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  if (response->body.empty()) {
    return nlohmann::json::object();
  }
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (json.is_discarded()) {
    return errorf(ErrorKind::Internal, "{} {} on {}: the answer is not JSON", method, path,
                  host.name);
  }
  return json;
}

Status formSwarm(LabRecord& record) {
  const LabHost& manager = record.hosts.front();
  auto init =
      callDaemon(manager, "POST", "/v1/swarm/init",
                 nlohmann::json{{"advertiseAddr", manager.address}}, std::chrono::seconds(30));
  if (!init) {
    return std::unexpected(init.error().withContext(
        fmt::format("swarm init on {} ({})", manager.name, manager.address)));
  }
  record.managerAddress = fmt::format("{}:{}", manager.address, kClusterPort);
  if (record.hosts.size() == 1) {
    return {};
  }
  auto tokens =
      callDaemon(manager, "GET", "/v1/swarm/join-token", nullptr, std::chrono::seconds(10));
  if (!tokens) {
    return std::unexpected(tokens.error().withContext(
        fmt::format("read the worker join token from {}", manager.name)));
  }
  std::string token = tokens->value("worker", "");
  if (token.empty()) {
    return errorf(ErrorKind::Internal, "{} returned no worker join token: {}", manager.name,
                  tokens->dump());
  }
  for (std::size_t i = 1; i < record.hosts.size(); ++i) {
    const LabHost& worker = record.hosts[i];
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
  for (auto& host : record.hosts) {
    auto pid = startDaemon(options, host);
    if (!pid) {
      return std::unexpected(pid.error());
    }
    host.pid = *pid;
  }
  for (const auto& host : record.hosts) {
    if (auto ready = waitForDaemon(host); !ready) {
      return ready;
    }
  }
  if (auto swarm = formSwarm(record); !swarm) {
    return swarm;
  }
  return writeFileAtomically(recordPath(options.runDir, options.name),
                             nlohmann::json(record).dump(2) + "\n");
}

// Detaches the UTS pins below the lab's directory so that it can be removed. A pin that is
// not mounted (EINVAL) or absent is fine.
std::vector<std::string> unpinUtsNamespaces(const std::string& dir) {
  std::vector<std::string> failures;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::string pin = utsPinPath(entry.path().string());
    if (umount2(pin.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT &&
        errno != ENOTDIR) {
      failures.push_back(fmt::format("unmount {}: {}", pin, errnoText(errno)));
    }
  }
  return failures;
}

Result<int> resolveHost(const std::string& name, const std::string& host) {
  std::string_view text = host;
  std::string labPrefix = name + "-";
  if (text.starts_with(labPrefix)) {
    text.remove_prefix(labPrefix.size());
  }
  if (text.starts_with("h")) {
    text.remove_prefix(1);
  }
  int index = 0;
  bool numeric = !text.empty() && text.size() <= 2 &&
                 std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    index = std::stoi(std::string(text));
  }
  if (index < 1 || index > kMaxHosts) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a lab host: use its number (2), its name (h2) or its namespace "
                  "({}-h2)",
                  host, name);
  }
  return index;
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
  if (options.overmeshdPath.empty() || access(options.overmeshdPath.c_str(), X_OK) != 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "overmeshd binary \"{}\" is not executable{}; pass --overmeshd PATH or set "
                  "OVERMESHD",
                  options.overmeshdPath,
                  options.overmeshdPath.empty() ? "" : fmt::format(" ({})", errnoText(errno)));
  }

  LabRecord record;
  record.name = options.name;
  record.runDir = options.runDir;
  record.underlayNamespace = underlayNamespace(options.name);
  for (int i = 1; i <= options.hosts; ++i) {
    record.hosts.push_back(describeHost(options.runDir, options.name, i));
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

  auto namespaces = labNamespaces(name);
  if (!namespaces) {
    return std::unexpected(namespaces.error());
  }
  std::set<NamespaceId> ids;
  for (const auto& ns : *namespaces) {
    if (auto id = kernel::namespaceIdOf(kernel::namespacePath(ns)); id) {
      ids.insert(*id);
    }
  }
  // Kill before deleting: a namespace whose file is gone lives on while a process is in it.
  // A process may start another while we stop it, so look again until nothing is found.
  std::vector<pid_t> survivors;
  for (int round = 0; round < kKillRounds; ++round) {
    std::vector<pid_t> found = findLabProcesses(ids, name);
    std::erase_if(found, [&](pid_t pid) {
      return std::find(survivors.begin(), survivors.end(), pid) != survivors.end();
    });
    if (found.empty()) {
      break;
    }
    report.processes.insert(report.processes.end(), found.begin(), found.end());
    auto left = terminate(found, report);
    survivors.insert(survivors.end(), left.begin(), left.end());
  }
  for (pid_t survivor : survivors) {
    failures.push_back(fmt::format("process {} did not exit after SIGKILL", survivor));
  }
  for (const auto& ns : *namespaces) {
    if (auto removed = kernel::deleteNamespace(ns); !removed) {
      failures.push_back(removed.error().message);
      continue;
    }
    report.namespaces.push_back(ns);
  }

  std::string dir = labDir(runDir, name);
  if (fs::exists(dir)) {
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
  for (const auto& host : record->hosts) {
    LabHostStatus hostStatus;
    hostStatus.host = host;
    if (host.pid > 0 && !processGone(host.pid)) {
      auto inside = kernel::namespaceIdOf(fmt::format("/proc/{}/ns/net", host.pid));
      auto expected = kernel::namespaceIdOf(kernel::namespacePath(host.namespaceName));
      hostStatus.daemonAlive = inside && expected && *inside == *expected;
    }
    result.hosts.push_back(std::move(hostStatus));
  }
  auto nodes =
      callDaemon(record->hosts.front(), "GET", "/v1/nodes", nullptr, std::chrono::seconds(3));
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

Result<int> exec(const std::string& name, const std::string& host,
                 const std::vector<std::string>& argv, const std::string& givenRunDir) {
  if (auto valid = validateLabName(name); !valid) {
    return std::unexpected(valid.error());
  }
  if (argv.empty()) {
    return errorf(ErrorKind::InvalidArgument, "lab exec: no command given");
  }
  auto index = resolveHost(name, host);
  if (!index) {
    return std::unexpected(index.error());
  }
  std::string runDir = absoluteRunDir(givenRunDir);
  LabHost target = describeHost(runDir, name, *index);
  auto netns = kernel::openNamespace(target.namespaceName);
  if (!netns) {
    if (netns.error().kind == ErrorKind::NotFound) {
      auto namespaces = labNamespaces(name);
      if (namespaces && namespaces->empty()) {
        return errorf(ErrorKind::NotFound,
                      "no lab named \"{}\"; create one with `overmesh lab up --name {}`", name,
                      name);
      }
      return errorf(ErrorKind::NotFound, "lab \"{}\" has no host {} (namespaces: {})", name,
                    target.name,
                    namespaces ? fmt::format("{}", fmt::join(*namespaces, ", ")) : "?");
    }
    return std::unexpected(netns.error());
  }
  // The UTS pin exists once the daemon started; without it the command keeps our hostname.
  UniqueFd uts;
  std::string pin = utsPinPath(fs::path(target.socketPath).parent_path().string());
  if (int fd = open(pin.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    uts = UniqueFd(fd);
  }

  std::vector<std::string> args = argv;
  std::vector<std::string> env = childEnvironment(
      {fmt::format("OVERMESH_HOST=unix://{}", target.socketPath),
       fmt::format("{}={}", kLabMarkVariable, name), fmt::format("OVERMESH_LAB_DIR={}", runDir)});
  std::vector<char*> argp = cStrings(args);
  std::vector<char*> envp = cStrings(env);

  // Like a shell: while the command runs, Ctrl-C is its business, not ours.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  struct sigaction oldInt {};
  struct sigaction oldQuit {};
  sigaction(SIGINT, &ignore, &oldInt);
  sigaction(SIGQUIT, &ignore, &oldQuit);

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    sigaction(SIGINT, &oldInt, nullptr);
    sigaction(SIGQUIT, &oldQuit, nullptr);
    return errorf(ErrorKind::Unavailable, "lab exec: fork: {}", errnoText(err));
  }
  if (pid == 0) {
    if (setns(netns->get(), CLONE_NEWNET) != 0) {
      dprintf(STDERR_FILENO, "overmesh lab exec: enter %s: %s\n", target.namespaceName.c_str(),
              strerror(errno));
      _exit(127);
    }
    if (uts.valid() && setns(uts.get(), CLONE_NEWUTS) != 0) {
      dprintf(STDERR_FILENO, "overmesh lab exec: enter the UTS namespace of %s: %s\n",
              target.namespaceName.c_str(), strerror(errno));
      _exit(127);
    }
    resetSignalsInChild();
    execvpe(argp[0], argp.data(), envp.data());
    int err = errno;
    dprintf(STDERR_FILENO, "overmesh lab exec: %s: %s\n", argp[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  int waitStatus = 0;
  pid_t waited = 0;
  do {
    waited = waitpid(pid, &waitStatus, 0);
  } while (waited < 0 && errno == EINTR);
  int err = errno;
  sigaction(SIGINT, &oldInt, nullptr);
  sigaction(SIGQUIT, &oldQuit, nullptr);
  if (waited < 0) {
    return errorf(ErrorKind::Internal, "lab exec: wait for {}: {}", argv.front(), errnoText(err));
  }
  if (WIFEXITED(waitStatus)) {
    return WEXITSTATUS(waitStatus);
  }
  return 128 + WTERMSIG(waitStatus);
}

void to_json(nlohmann::json& json, const LabHost& value) {
  json = nlohmann::json{{"index", value.index},
                        {"name", value.name},
                        {"namespace", value.namespaceName},
                        {"hostname", value.namespaceName},
                        {"address", value.address},
                        {"socket", value.socketPath},
                        {"stateDir", value.stateDir},
                        {"log", value.logPath},
                        {"pid", value.pid},
                        {"role", value.role}};
}

void from_json(const nlohmann::json& json, LabHost& value) {
  json.at("index").get_to(value.index);
  json.at("name").get_to(value.name);
  json.at("namespace").get_to(value.namespaceName);
  json.at("address").get_to(value.address);
  json.at("socket").get_to(value.socketPath);
  value.stateDir = json.value("stateDir", "");
  value.logPath = json.value("log", "");
  json.at("pid").get_to(value.pid);
  value.role = json.value("role", "");
}

void to_json(nlohmann::json& json, const LabRecord& value) {
  json = nlohmann::json{{"name", value.name},
                        {"runDir", value.runDir},
                        {"underlay",
                         {{"namespace", value.underlayNamespace},
                          {"bridge", kUnderlayBridge},
                          {"mtu", kUnderlayMtu},
                          {"subnet", fmt::format("{}/{}", Ipv4Address::fromValue(kUnderlayBase),
                                                 kUnderlayPrefixLength)}}},
                        {"managerAddress", value.managerAddress},
                        {"hosts", value.hosts}};
}

void from_json(const nlohmann::json& json, LabRecord& value) {
  json.at("name").get_to(value.name);
  value.runDir = json.value("runDir", "");
  value.underlayNamespace = json.at("underlay").at("namespace").get<std::string>();
  value.managerAddress = json.value("managerAddress", "");
  json.at("hosts").get_to(value.hosts);
}

void to_json(nlohmann::json& json, const LabHostStatus& value) {
  json = value.host;
  json["daemonAlive"] = value.daemonAlive;
  json["nodeState"] = value.nodeState;
  json["nodeRole"] = value.nodeRole;
}

void to_json(nlohmann::json& json, const LabStatus& value) {
  json = nlohmann::json{{"name", value.name}, {"hosts", value.hosts}};
  if (!value.managerError.empty()) {
    json["managerError"] = value.managerError;
  }
}

void to_json(nlohmann::json& json, const DownReport& value) {
  json = nlohmann::json{{"namespaces", value.namespaces},
                        {"processes", value.processes},
                        {"killed", value.killed},
                        {"removedRunDir", value.removedRunDir}};
}

}  // namespace overmesh::lab
