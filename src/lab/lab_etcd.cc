// The etcd members of a lab made with `lab up --store etcd`: three namespaces on the
// underlay, each running /usr/bin/etcd with its own data directory, and the checks that
// they form a healthy cluster. Plain HTTP: the lab has no route out, and the members'
// client URLs are reachable only from lab namespaces.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "api/http_client.h"
#include "common/json.h"
#include "lab/lab_internal.h"

namespace overmesh::lab {

std::string LabEtcdMember::clientEndpoint() const {
  return fmt::format("{}:{}", address, kEtcdClientPort);
}

}  // namespace overmesh::lab

namespace overmesh::lab::internal {
namespace {

namespace kernel = dataplane::kernel;

// What the child reports through the close-on-exec pipe when a step before exec fails.
struct EtcdChildFailure {
  int step = 0;
  int error = 0;
};

constexpr const char* kEtcdChildSteps[] = {"", "enter the member's network namespace",
                                           "start a session", "redirect output", "exec"};
constexpr int kEtcdExecStep = 4;

std::string etcdLogPath(const LabEtcdMember& member) { return member.dir + "/etcd.log"; }

}  // namespace

std::string etcdNamespace(const std::string& name, int index) {
  return fmt::format("{}-etcd{}", name, index);
}

Ipv4Address etcdAddress(int index) {
  return Ipv4Address::fromValue(kUnderlayBase +
                                static_cast<std::uint32_t>(kEtcdAddressOffset + index));
}

LabEtcdMember describeEtcdMember(const std::string& runDir, const std::string& name, int index) {
  LabEtcdMember member;
  member.index = index;
  member.name = fmt::format("etcd{}", index);
  member.namespaceName = etcdNamespace(name, index);
  member.address = etcdAddress(index).toString();
  member.dir = fmt::format("{}/etcd{}", labDir(runDir, name), index);
  return member;
}

std::vector<std::string> etcdArguments(const std::string& etcdPath, const LabEtcdMember& member,
                                       const std::vector<LabEtcdMember>& members) {
  std::vector<std::string> peers;
  for (const auto& peer : members) {
    peers.push_back(fmt::format("{}=http://{}:{}", peer.name, peer.address, kEtcdPeerPort));
  }
  std::string clientUrl = fmt::format("http://{}:{}", member.address, kEtcdClientPort);
  std::string peerUrl = fmt::format("http://{}:{}", member.address, kEtcdPeerPort);
  // Heartbeat and election timeouts stay etcd's defaults (100 ms, 1 s). A restarted member
  // finds its data dir and ignores the --initial-* flags.
  return {etcdPath,
          "--name",
          member.name,
          "--data-dir",
          member.dir + "/data",
          "--listen-client-urls",
          clientUrl,
          "--advertise-client-urls",
          clientUrl,
          "--listen-peer-urls",
          peerUrl,
          "--initial-advertise-peer-urls",
          peerUrl,
          "--initial-cluster",
          fmt::format("{}", fmt::join(peers, ",")),
          "--initial-cluster-state",
          "new",
          "--initial-cluster-token",
          fmt::format("overmesh-lab-{}",
                      member.namespaceName.substr(0, member.namespaceName.rfind('-')))};
}

std::string etcdStoreUrl(const std::vector<LabEtcdMember>& members) {
  std::vector<std::string> endpoints;
  for (const auto& member : members) {
    endpoints.push_back(member.clientEndpoint());
  }
  return fmt::format("etcd://{}", fmt::join(endpoints, ","));
}

Result<pid_t> startEtcdProcess(const std::string& labName, const std::string& etcdPath,
                               const LabEtcdMember& member,
                               const std::vector<LabEtcdMember>& members) {
  std::string what = fmt::format("start etcd in {}", member.namespaceName);
  auto netns = kernel::openNamespace(member.namespaceName);
  if (!netns) {
    return std::unexpected(netns.error().withContext(what));
  }
  std::string logPath = etcdLogPath(member);
  kernel::UniqueFd log(open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log.valid()) {
    return errorf(ErrorKind::Unavailable, "{}: open {}: {}", what, logPath, errnoText(errno));
  }
  kernel::UniqueFd devNull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devNull.valid()) {
    return errorf(ErrorKind::Unavailable, "{}: open /dev/null: {}", what, errnoText(errno));
  }
  int pipeFds[2];
  if (pipe2(pipeFds, O_CLOEXEC) != 0) {
    return errorf(ErrorKind::Unavailable, "{}: pipe: {}", what, errnoText(errno));
  }
  kernel::UniqueFd readEnd(pipeFds[0]);
  kernel::UniqueFd writeEnd(pipeFds[1]);
  std::vector<std::string> args = etcdArguments(etcdPath, member, members);
  std::vector<std::string> env =
      childEnvironment({fmt::format("{}={}", kLabMarkVariable, labName)});
  std::vector<char*> argv = cStrings(args);
  std::vector<char*> envp = cStrings(env);

  pid_t pid = fork();
  if (pid < 0) {
    return errorf(ErrorKind::Unavailable, "{}: fork: {}", what, errnoText(errno));
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    auto fail = [&](int step) {
      EtcdChildFailure failure{step, errno};
      [[maybe_unused]] auto n = write(writeEnd.get(), &failure, sizeof(failure));
      _exit(127);
    };
    if (setns(netns->get(), CLONE_NEWNET) != 0) {
      fail(1);
    }
    if (setsid() < 0) {
      fail(2);
    }
    if (dup2(devNull.get(), STDIN_FILENO) < 0 || dup2(log.get(), STDOUT_FILENO) < 0 ||
        dup2(log.get(), STDERR_FILENO) < 0) {
      fail(3);
    }
    [[maybe_unused]] int ignored = chdir("/");
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    resetSignalsInChild();
    execve(argv[0], argv.data(), envp.data());
    fail(kEtcdExecStep);
  }
  writeEnd.reset();
  EtcdChildFailure failure;
  ssize_t n = 0;
  do {
    n = read(readEnd.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    waitpid(pid, &status, 0);
    const char* step =
        failure.step > 0 && failure.step <= kEtcdExecStep ? kEtcdChildSteps[failure.step] : "?";
    return errorf(ErrorKind::Unavailable, "{}: {} ({}): {}", what, step,
                  failure.step == kEtcdExecStep ? etcdPath : member.namespaceName,
                  errnoText(failure.error));
  }
  return pid;
}

bool etcdRuns(const LabEtcdMember& member) {
  if (member.pid <= 0 || processGone(member.pid)) {
    return false;
  }
  auto inside = kernel::namespaceIdOf(fmt::format("/proc/{}/ns/net", member.pid));
  auto expected = kernel::namespaceIdOf(kernel::namespacePath(member.namespaceName));
  return inside && expected && *inside == *expected;
}

Status etcdHealth(const LabEtcdMember& member, std::chrono::milliseconds timeout) {
  // The socket is opened inside the member's namespace (the lab has no route from ours);
  // NamespaceSwitch moves only this thread, and back.
  return kernel::runInNamespace(member.namespaceName, [&]() -> Status {
    auto client = api::HttpClient::create("tcp://" + member.clientEndpoint());
    if (!client) {
      return std::unexpected(client.error());
    }
    auto response = (*client)->request("GET", "/health", "", timeout);
    if (!response) {
      return errorf(ErrorKind::Unavailable, "{}: {}", member.name, response.error().message);
    }
    std::string health;
    auto read =
        decodeFields(response->body, "etcd /health answer",
                     [&](const nlohmann::json& json) { readField(json, "health", health); });
    if (response->status != 200 || !read || health != "true") {
      return errorf(ErrorKind::Unavailable, "{}: GET /health answered HTTP {}: {}", member.name,
                    response->status, printable(response->body, 200));
    }
    return {};
  });
}

Status waitForEtcd(const std::vector<LabEtcdMember>& members) {
  auto deadline = std::chrono::steady_clock::now() + kEtcdStartTimeout;
  for (const auto& member : members) {
    while (true) {
      if (reapedOrGone(member.pid)) {
        return errorf(ErrorKind::Unavailable, "etcd in {} (pid {}) exited during startup{}",
                      member.namespaceName, member.pid, logTail(etcdLogPath(member)));
      }
      auto healthy = etcdHealth(member, std::chrono::seconds(1));
      if (healthy) {
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return errorf(ErrorKind::Unavailable, "etcd member {} not healthy within {} s ({}){}",
                      member.name, std::chrono::seconds(kEtcdStartTimeout).count(),
                      healthy.error().message, logTail(etcdLogPath(member)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return {};
}

}  // namespace overmesh::lab::internal
