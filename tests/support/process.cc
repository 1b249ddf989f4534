#include "support/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace overmesh::testing {

std::string readFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

bool toolInstalled(const std::string& tool) {
  return runCommand({"/bin/sh", "-c", "command -v " + tool}).exitCode == 0;
}

std::vector<pid_t> pidsWhoseCommandLineHas(const std::string& text) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    auto pid = static_cast<pid_t>(std::stol(name));
    if (pid != getpid() && readFile(entry.path().string() + "/cmdline").find(text) !=
                               std::string::npos) {
      found.push_back(pid);
    }
  }
  return found;
}

std::string joinedCommand(const std::vector<std::string>& argv) {
  std::string command;
  for (const auto& word : argv) {
    command += (command.empty() ? "" : " ") + word;
  }
  return command;
}

bool processRuns(pid_t pid) {
  std::string text = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) {
    return false;
  }
  return text[close + 2] != 'Z' && text[close + 2] != 'X';
}

namespace {

[[noreturn]] void execOrDie(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

// Waits for `pid` up to `timeout`; returns its wait status or -1 when it is still running.
int waitFor(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return status;
    }
    if (done < 0 || std::chrono::steady_clock::now() > deadline) {
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

std::string binaryPath(const std::string& name) {
  // The package test points the tests at the installed binaries (/usr/bin/overmesh).
  const char* variable = name == "overmesh" ? "OVERMESH_TEST_CLI" : "OVERMESH_TEST_DAEMON";
  if (const char* given = std::getenv(variable); given != nullptr && *given != '\0') {
    return given;
  }
  if (name == "overmesh") {
    return OVERMESH_CLI_PATH;
  }
  return OVERMESH_DAEMON_PATH;
}

bool canUseNamespaces() { return geteuid() == 0; }

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "overmesh-test-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
  std::error_code error;
  if (!path_.empty()) {
    std::filesystem::remove_all(path_, error);
  }
}

CommandResult runCommand(const std::vector<std::string>& argv, bool unshareNet) {
  TempDir outputs;
  std::string outPath = outputs.path() + "/out";
  std::string errPath = outputs.path() + "/err";
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (unshareNet && unshare(CLONE_NEWNET) != 0) {
      _exit(126);
    }
    execOrDie(argv);
  }
  CommandResult result;
  int status = 0;
  waitpid(pid, &status, 0);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = readFile(outPath);
  result.err = readFile(errPath);
  return result;
}

DaemonProcess::DaemonProcess(std::string socketPath, std::string stateDir)
    : socketPath_(std::move(socketPath)),
      stateDir_(std::move(stateDir)),
      logPath_(stateDir_ + ".log") {}

DaemonProcess::~DaemonProcess() { stop(); }

bool DaemonProcess::start(const std::vector<std::string>& extraArgs) {
  std::vector<std::string> argv = {binaryPath("overmeshd"), "--socket", socketPath_,
                                   "--state-dir", stateDir_, "--log-level", "debug"};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  pid_ = fork();
  if (pid_ == 0) {
    int log = open(logPath_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    // A fresh network namespace: the daemon never sees the machine's interfaces.
    if (unshare(CLONE_NEWNET) != 0) {
      _exit(126);
    }
    execOrDie(argv);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cli({"version"}).exitCode == 0) {
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int DaemonProcess::stop() {
  if (pid_ <= 0) {
    return -1;
  }
  ::kill(pid_, SIGTERM);
  int status = waitFor(pid_, std::chrono::seconds(10));
  if (status == -1) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    status = -1;
  }
  pid_ = -1;
  return status == -1 ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string DaemonProcess::log() const { return readFile(logPath_); }

CommandResult DaemonProcess::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {binaryPath("overmesh"), "-H", "unix://" + socketPath_};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

std::vector<std::string> nonEmptyLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

}  // namespace overmesh::testing
