#include "runtime/podman/podman_service.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/atomic_file.h"
#include "common/secret_hash.h"
#include "runtime/child_process.h"
#include "runtime/podman/podman_client.h"

extern char** environ;

namespace overmesh::runtime::podman {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff = 1s;
constexpr std::chrono::milliseconds kMaxBackoff = 30s;
constexpr std::chrono::milliseconds kStopGrace = 5s;
// The service's log is kept below this: it is started again with an empty one beyond.
constexpr std::uintmax_t kMaxLogBytes = 1 << 20;
constexpr std::size_t kLogTail = 600;

std::string findInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return "";
}

std::string readSmallFile(const std::string& path, std::size_t limit) {
  std::ifstream file(path, std::ios::binary);
  std::string content(limit, '\0');
  file.read(content.data(), static_cast<std::streamsize>(limit));
  content.resize(static_cast<std::size_t>(file.gcount()));
  return content;
}

// The last lines of the service's log, for an error message.
std::string logTail(const std::string& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  if (error || size == 0) {
    return "(its log is empty)";
  }
  std::ifstream file(path, std::ios::binary);
  std::uintmax_t from = size > kLogTail ? size - kLogTail : 0;
  file.seekg(static_cast<std::streamoff>(from));
  std::string tail((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) {
    tail.pop_back();
  }
  return "its log ends: " + tail;
}

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) {
    return fmt::format("exited with code {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {}", WTERMSIG(status));
  }
  return "ended";
}

// A zombie is not alive: it has ended, and only its parent's wait is missing.
bool processAlive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) {
    return false;
  }
  std::string stat = readSmallFile(fmt::format("/proc/{}/stat", pid), 512);
  auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

}  // namespace

std::string podmanRunRoot(const std::string& dir) {
  std::string inside = dir + "/run";
  if (inside.size() <= kMaxPodmanRunRoot) {
    return inside;
  }
  return std::string(kShortRunRootParent) + "/" + hashSecret(dir).substr(0, 16);
}

std::vector<std::string> podmanArgv(const std::string& podmanBinary, const std::string& dir) {
  return {podmanBinary,
          "--root",
          dir + "/storage",
          "--runroot",
          podmanRunRoot(dir),
          "--tmpdir",
          dir + "/tmp",
          // Network definitions are podman's machine-wide files by default
          // (/etc/containers/networks): ours stay in the node's directory (containers use
          // the task's sandbox; podman makes no network of its own).
          "--network-config-dir",
          dir + "/networks",
          "--cgroup-manager",
          "cgroupfs",
          "--runtime",
          "runc",
          "--events-backend",
          "file"};
}

std::vector<std::string> podmanServiceArgv(const std::string& podmanBinary,
                                           const std::string& dir) {
  auto argv = podmanArgv(podmanBinary, dir);
  argv.insert(argv.end(), {"system", "service", "--time", "0", "unix://" + dir + "/podman.sock"});
  return argv;
}

PodmanService::PodmanService(PodmanServiceOptions options)
    : options_(std::move(options)),
      netnsFd_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {}

PodmanService::~PodmanService() {
  stop();
  if (netnsFd_ >= 0) {
    ::close(netnsFd_);
  }
}

std::string PodmanService::socketPath() const { return options_.dir + "/podman.sock"; }

bool PodmanService::storageExists() const {
  std::error_code error;
  return std::filesystem::exists(options_.dir + "/storage", error);
}

pid_t PodmanService::pid() const {
  std::lock_guard lock(mutex_);
  return pid_;
}

bool PodmanService::runningLocked() {
  if (pid_ <= 0) {
    return false;
  }
  int status = 0;
  pid_t waited = ::waitpid(pid_, &status, WNOHANG);
  if (waited == 0) {
    return true;
  }
  std::string how = waited == pid_ ? describeWaitStatus(status) : "is gone (reaped elsewhere)";
  lastFailure_ = fmt::format("the podman service (pid {}) {}; {}", pid_, how,
                             logTail(options_.dir + "/podman.log"));
  spdlog::warn("{}; starting it again on the next need", lastFailure_);
  pid_ = 0;
  return false;
}

void PodmanService::endStaleService() {
  std::string pidText = readSmallFile(options_.dir + "/podman.pid", 32);
  pid_t stale = 0;
  try {
    stale = pidText.empty() ? 0 : static_cast<pid_t>(std::stol(pidText));
  } catch (const std::exception&) {
    stale = 0;
  }
  if (stale <= 0 || stale == ::getpid() || !processAlive(stale)) {
    return;
  }
  // Only a process whose command line names our socket is ours: the pid may have been
  // reused by anything since.
  std::string cmdline = readSmallFile(fmt::format("/proc/{}/cmdline", stale), 1 << 16);
  if (cmdline.find("unix://" + socketPath()) == std::string::npos) {
    return;
  }
  spdlog::info("ending the podman service (pid {}) a previous overmeshd left running", stale);
  ::kill(stale, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  while (processAlive(stale) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  if (processAlive(stale)) {
    ::kill(stale, SIGKILL);
  }
}

void PodmanService::endLeftoverService() {
  std::lock_guard lock(mutex_);
  if (pid_ <= 0) {
    endStaleService();
  }
  checkedStale_ = true;
}

Status PodmanService::ensureRunning() {
  std::lock_guard lock(mutex_);
  if (runningLocked()) {
    return {};
  }
  auto now = std::chrono::steady_clock::now();
  if (failures_ > 0 && now < nextAttempt_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(nextAttempt_ - now);
    return errorf(ErrorKind::Unavailable, "{} (next attempt in {} ms)", lastFailure_, wait.count());
  }
  auto started = startLocked();
  if (!started) {
    ++failures_;
    auto backoff = kFirstBackoff * (1 << std::min(failures_ - 1, 5));
    nextAttempt_ = std::chrono::steady_clock::now() + std::min(backoff, kMaxBackoff);
    lastFailure_ = started.error().message;
    spdlog::warn("{}", lastFailure_);
    return started;
  }
  failures_ = 0;
  return {};
}

Status PodmanService::startLocked() {
  std::string binary = options_.podmanBinary.empty() ? findInPath("podman") : options_.podmanBinary;
  if (binary.empty() || ::access(binary.c_str(), X_OK) != 0) {
    return errorf(ErrorKind::Unavailable,
                  "podman is not installed on this node (apt-get install podman runc catatonit)");
  }
  const std::string& dir = options_.dir;
  // sockaddr_un holds 107 characters and a NUL.
  if (socketPath().size() > 107) {
    return errorf(ErrorKind::Unavailable,
                  "the podman socket path {} is longer than 107 characters: use a shorter "
                  "--state-dir",
                  socketPath());
  }
  std::error_code error;
  for (const std::string& path :
       {dir, dir + "/storage", podmanRunRoot(dir), dir + "/tmp", dir + "/networks"}) {
    std::filesystem::create_directories(path, error);
    if (error) {
      return errorf(ErrorKind::Unavailable, "podman service: create {}: {}", path, error.message());
    }
  }
  if (!checkedStale_) {
    endStaleService();
    checkedStale_ = true;
  }
  std::string socket = socketPath();
  std::filesystem::remove(socket, error);
  std::string logPath = dir + "/podman.log";
  if (std::filesystem::file_size(logPath, error) > kMaxLogBytes && !error) {
    std::filesystem::remove(logPath, error);
  }
  int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) {
    return errorf(ErrorKind::Unavailable, "podman service: open {}: {}", logPath,
                  std::strerror(errno));
  }
  int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devNull < 0) {
    int saved = errno;
    ::close(log);
    return errorf(ErrorKind::Unavailable, "podman service: open /dev/null: {}",
                  std::strerror(saved));
  }
  if (netnsFd_ < 0) {
    // Without it the child would start in whatever namespace the calling thread is in,
    // possibly a task's sandbox.
    ::close(log);
    ::close(devNull);
    return errorf(ErrorKind::Unavailable,
                  "podman service: the daemon's network namespace could not be opened when "
                  "overmeshd started; restart overmeshd");
  }
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (!std::string_view(*entry).starts_with("CONTAINERS_REGISTRIES_CONF=")) {
      env.emplace_back(*entry);
    }
  }
  std::string conf = dir + "/registries.conf";
  if (!std::filesystem::exists(conf, error)) {
    // podman would fall back to the machine's /etc/containers/registries.conf.
    if (auto written =
            writeFileAtomically(conf, "unqualified-search-registries = [\"docker.io\"]\n");
        !written) {
      ::close(log);
      ::close(devNull);
      return std::unexpected(written.error().withContext("podman service"));
    }
  }
  env.push_back("CONTAINERS_REGISTRIES_CONF=" + conf);
  CStringArray argv(podmanServiceArgv(binary, dir));
  CStringArray envp(std::move(env));
  const char* path = binary.c_str();

  pid_t child = ::fork();
  if (child < 0) {
    int saved = errno;
    ::close(log);
    ::close(devNull);
    return errorf(ErrorKind::Unavailable, "podman service: fork: {}", std::strerror(saved));
  }
  if (child == 0) {
    // Only async-signal-safe calls from here (child_process.h).
    if (::setns(netnsFd_, CLONE_NEWNET) != 0) {
      ::_exit(125);
    }
    ::setsid();
    int fds[3] = {devNull, log, log};
    if (!arrangeDescriptors(fds, 3)) {
      ::_exit(126);
    }
    resetSignalsForExec();
    ::execve(path, argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log);
  ::close(devNull);
  pid_ = child;
  if (auto written = writeFileAtomically(dir + "/podman.pid", std::to_string(child) + "\n");
      !written) {
    spdlog::warn("podman service: {}", written.error().message);
  }
  spdlog::info("started the podman service (pid {}) on {}", child, socket);

  auto deadline = std::chrono::steady_clock::now() + options_.startTimeout;
  while (true) {
    if (!runningLocked()) {
      return errorf(ErrorKind::Unavailable, "{}", lastFailure_);
    }
    if (std::filesystem::exists(socket, error)) {
      if (auto client = PodmanClient::connect(socket); client && client->ping()) {
        return {};
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  std::string tail = logTail(logPath);
  stopLocked();
  return errorf(ErrorKind::Unavailable, "the podman service did not answer on {} within {} ms; {}",
                socket, options_.startTimeout.count(), tail);
}

Status PodmanService::configure(const std::string& content) {
  std::lock_guard lock(mutex_);
  std::error_code error;
  std::filesystem::create_directories(options_.dir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "podman service: create {}: {}", options_.dir,
                  error.message());
  }
  std::string conf = options_.dir + "/registries.conf";
  if (std::filesystem::exists(conf, error) && readSmallFile(conf, 1 << 20) == content) {
    return {};
  }
  if (auto written = writeFileAtomically(conf, content); !written) {
    return std::unexpected(written.error().withContext("podman service"));
  }
  if (!runningLocked()) {
    return {};  // read when it starts
  }
  spdlog::info("registry settings changed: restarting the podman service");
  stopLocked();
  failures_ = 0;
  return startLocked();
}

void PodmanService::stop() {
  std::lock_guard lock(mutex_);
  stopLocked();
}

void PodmanService::stopLocked() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + kStopGrace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  // The pidfile may already name a newer daemon's service: remove only our own.
  std::string pidFile = options_.dir + "/podman.pid";
  if (readSmallFile(pidFile, 32) == std::to_string(pid_) + "\n") {
    std::error_code error;
    std::filesystem::remove(pidFile, error);
  }
  pid_ = 0;
}

}  // namespace overmesh::runtime::podman
