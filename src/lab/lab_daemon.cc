// A lab host's overmeshd: started in the host's namespaces exactly the same way by
// `lab up` and `lab start`, waited for until its API answers, called, and stopped.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>

#include "api/api_error.h"
#include "api/http_client.h"
#include "lab/lab_internal.h"
#include "common/json.h"

namespace overmesh::lab::internal {
namespace {

namespace kernel = dataplane::kernel;
using kernel::UniqueFd;

}  // namespace

// The last `lines` lines of a daemon's log, to explain why it did not come up.
std::string logTail(const std::string& path, std::size_t lines) {
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

namespace {

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
                                       "exec",
                                       "enter the host's UTS namespace"};
constexpr int kExecStep = 6;
constexpr int kStepCount = 8;

}  // namespace

std::vector<std::string> daemonArguments(const DaemonLaunch& launch, const LabHost& host) {
  std::vector<std::string> args = {launch.overmeshdPath};
  args.insert(args.end(), launch.unitArguments.begin(), launch.unitArguments.end());
  args.insert(args.end(),
              {// Every lab host runs on one machine: each needs its own API socket and state
               // directory (the unit's /run/overmesh and /var/lib/overmesh would be shared).
               "--socket", host.socketPath, "--state-dir", host.stateDir,
               // The port formSwarm() tells joining hosts; pinned in case a unit's file
               // changes it.
               "--cluster-port", std::to_string(kClusterPort),
               // Lab hosts share /run/netns: each daemon names its task sandboxes under its
               // own prefix.
               "--netns-prefix", host.namespaceName + "-",
               // Its own resolvers, never the machine's: the embedded DNS forwards there from
               // inside the lab.
               "--resolv-conf", resolvConfPath(host),
               // `lab up --log-level`, for every host alike.
               "--log-level", launch.logLevel});
  return args;
}

Result<pid_t> startDaemon(const DaemonLaunch& launch, const LabHost& host) {
  std::string dir = hostDir(host);
  std::string what = fmt::format("start overmeshd in {}", host.namespaceName);
  auto netns = kernel::openNamespace(host.namespaceName);
  if (!netns) {
    return std::unexpected(netns.error().withContext(what));
  }
  // A restarted daemon joins the UTS namespace its predecessor created.
  UniqueFd uts = openPinnedUts(dir);
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
  if (auto resolvConf = ensureResolvConf(host); !resolvConf) {
    return std::unexpected(resolvConf.error().withContext(what));
  }

  std::vector<std::string> args = daemonArguments(launch, host);
  std::vector<std::string> env =
      childEnvironment({fmt::format("{}={}", kLabMarkVariable, launch.labName)});
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
    if (uts.valid()) {
      if (setns(uts.get(), CLONE_NEWUTS) != 0) {
        fail(7);
      }
    } else {
      if (unshare(CLONE_NEWUTS) != 0) {
        fail(2);
      }
      if (sethostname(hostname.c_str(), hostname.size()) != 0) {
        fail(3);
      }
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
    fail(kExecStep);
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
    const char* step =
        failure.step > 0 && failure.step < kStepCount ? kChildSteps[failure.step] : "?";
    return errorf(ErrorKind::Unavailable, "{}: {} ({}): {}", what, step,
                  failure.step == kExecStep ? launch.overmeshdPath : host.namespaceName,
                  errnoText(failure.error));
  }

  if (uts.valid()) {
    return pid;
  }
  // Pin the daemon's UTS namespace so that `lab exec` and later daemons can join it.
  if (auto pinned = pinUtsNamespace(pid, dir); !pinned) {
    if (reapedOrGone(pid)) {
      return errorf(ErrorKind::Unavailable, "{}: overmeshd exited right away{}", what,
                    logTail(host.logPath));
    }
    return std::unexpected(pinned.error().withContext(what));
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

bool daemonRuns(const LabHost& host) {
  if (host.pid <= 0 || processGone(host.pid)) {
    return false;
  }
  auto inside = kernel::namespaceIdOf(fmt::format("/proc/{}/ns/net", host.pid));
  auto expected = kernel::namespaceIdOf(kernel::namespacePath(host.namespaceName));
  return inside && expected && *inside == *expected;
}

Result<bool> stopDaemonProcess(const LabHost& host, int signal) {
  if (kill(host.pid, signal) != 0 && errno != ESRCH) {
    return errorf(ErrorKind::Unavailable, "signal overmeshd in {} (pid {}): {}", host.namespaceName,
                  host.pid, errnoText(errno));
  }
  bool neededKill = false;
  if (signal != SIGKILL) {
    if (waitGone({host.pid}, kDaemonStopGrace).empty()) {
      return false;
    }
    kill(host.pid, SIGKILL);
    neededKill = true;
  }
  if (!waitGone({host.pid}, kKillGrace).empty()) {
    return errorf(ErrorKind::Unavailable, "overmeshd in {} (pid {}) still runs {} s after SIGKILL",
                  host.namespaceName, host.pid, std::chrono::seconds(kKillGrace).count());
  }
  return neededKill;
}

Result<nlohmann::json> callDaemon(const LabHost& host, const std::string& method,
                                  const std::string& path, const nlohmann::json& body,
                                  std::chrono::milliseconds timeout, int* statusOut) {
  auto client = api::HttpClient::create("unix://" + host.socketPath);
  if (!client) {
    return std::unexpected(client.error());
  }
  auto response = (*client)->request(method, path, body.is_null() ? "" : dumpJson(body), timeout);
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

}  // namespace overmesh::lab::internal
