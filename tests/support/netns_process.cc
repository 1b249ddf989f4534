#include "support/netns_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace overmesh::testing {

namespace {

// In the child: enter the namespace, optionally mount the resolv.conf, exec. Never returns.
[[noreturn]] void enterAndExec(const std::string& ns, const std::vector<std::string>& argv,
                               const std::string& resolvConf) {
  int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    _exit(127);
  }
  if (!resolvConf.empty()) {
    if (unshare(CLONE_NEWNS) != 0 ||
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount(resolvConf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0) {
      _exit(127);
    }
  }
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

std::string slurp(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

NamespaceRun runInNetns(const std::string& ns, const std::vector<std::string>& argv,
                        const std::string& resolvConf) {
  char dir[] = "/tmp/om-nsrun-XXXXXX";
  NamespaceRun result;
  if (mkdtemp(dir) == nullptr) {
    return result;
  }
  std::string outPath = std::string(dir) + "/out";
  std::string errPath = std::string(dir) + "/err";
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    enterAndExec(ns, argv, resolvConf);
  }
  if (pid > 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = slurp(outPath);
    result.err = slurp(errPath);
  }
  unlink(outPath.c_str());
  unlink(errPath.c_str());
  rmdir(dir);
  return result;
}

pid_t spawnInNetns(const std::string& ns, const std::vector<std::string>& argv,
                   const std::string& logPath) {
  pid_t pid = fork();
  if (pid == 0) {
    int log = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    enterAndExec(ns, argv, "");
  }
  return pid;
}

void stopSpawned(pid_t pid) {
  if (pid <= 0) {
    return;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace overmesh::testing
