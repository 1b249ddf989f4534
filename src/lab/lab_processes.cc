// Processes of a lab: finding them (by network namespace or by the OVERMESH_LAB mark in
// their environment), signalling them and waiting until they are gone, and running a
// command inside a host's namespaces.

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "lab/lab_internal.h"

extern char** environ;

namespace overmesh::lab::internal {
namespace {

namespace fs = std::filesystem;
namespace kernel = dataplane::kernel;

// The state letter of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, or 0 when it
// cannot be read.
char stateIn(const std::string& statPath) {
  std::string stat = readFile(statPath);
  auto close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos || close + 2 >= stat.size()) {
    return 0;
  }
  return stat[close + 2];
}

bool isDead(char state) { return state == 0 || state == 'Z' || state == 'X'; }

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

}  // namespace

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

void resetSignalsInChild() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signal : {SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD}) {
    ::signal(signal, SIG_DFL);
  }
}

bool processGone(pid_t pid) {
  if (isDead(stateIn(fmt::format("/proc/{}/stat", pid)))) {
    // A killed multi-threaded process shows its leader as a zombie while the other threads
    // may still be exiting, holding its files (sockets, locks): look at every thread.
    std::error_code error;
    for (const auto& task : fs::directory_iterator(fmt::format("/proc/{}/task", pid), error)) {
      if (!isDead(stateIn((task.path() / "stat").string()))) {
        return false;
      }
    }
    return true;
  }
  return false;
}

bool reapedOrGone(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) {
    return true;
  }
  return processGone(pid);
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

std::vector<pid_t> findLabProcesses(const std::set<kernel::NamespaceId>& namespaces,
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

Result<int> runInNamespaces(int netns, int uts, const std::string& what,
                            std::vector<std::string> argv, std::vector<std::string> env) {
  std::vector<char*> argp = cStrings(argv);
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
    if (setns(netns, CLONE_NEWNET) != 0) {
      dprintf(STDERR_FILENO, "overmesh lab exec: enter %s: %s\n", what.c_str(), strerror(errno));
      _exit(127);
    }
    if (uts >= 0 && setns(uts, CLONE_NEWUTS) != 0) {
      dprintf(STDERR_FILENO, "overmesh lab exec: enter the UTS namespace of %s: %s\n", what.c_str(),
              strerror(errno));
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

}  // namespace overmesh::lab::internal
