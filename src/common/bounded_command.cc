#include "common/bounded_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace overmesh {
namespace {

// Closes a descriptor when it goes out of scope.
class CommandFd {
 public:
  CommandFd() = default;
  explicit CommandFd(int fd) : fd_(fd) {}
  CommandFd(const CommandFd&) = delete;
  CommandFd& operator=(const CommandFd&) = delete;
  CommandFd& operator=(CommandFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ~CommandFd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

struct CommandPipe {
  CommandFd read;
  CommandFd write;
};

Status makeCommandPipe(CommandPipe& pipe) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return errorf(ErrorKind::Internal, "pipe: {}", std::strerror(errno));
  }
  pipe.read = CommandFd(fds[0]);
  pipe.write = CommandFd(fds[1]);
  return {};
}

// Owns the posix_spawn attribute and file-action objects.
struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attributes{};
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Appends what `fd` has to `into`, keeping at most `max` bytes. False at EOF or on error.
bool drainInto(int fd, std::string& into, std::size_t max, bool& truncated) {
  std::array<char, 16384> buffer{};
  ssize_t got = ::read(fd, buffer.data(), buffer.size());
  if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
    return true;
  }
  if (got <= 0) {
    return false;
  }
  std::size_t room = max > into.size() ? max - into.size() : 0;
  std::size_t kept = std::min(room, static_cast<std::size_t>(got));
  into.append(buffer.data(), kept);
  if (kept < static_cast<std::size_t>(got)) {
    truncated = true;
  }
  return true;
}

}  // namespace

Result<CommandOutput> runBoundedCommand(const BoundedCommand& command) {
  if (command.argv.empty()) {
    return errorf(ErrorKind::Internal, "runBoundedCommand: no program given");
  }
  CommandPipe out;
  CommandPipe err;
  if (auto made = makeCommandPipe(out); !made) {
    return std::unexpected(made.error());
  }
  if (auto made = makeCommandPipe(err); !made) {
    return std::unexpected(made.error());
  }
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err.write.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigmask(&setup.attributes, &empty);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  argv.reserve(command.argv.size() + 1);
  for (const auto& arg : command.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));  // posix_spawn does not write them
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view current(*entry);
    bool replaced = std::ranges::any_of(command.env, [&](const std::string& given) {
      auto key = given.substr(0, given.find('=') + 1);
      return current.starts_with(key);
    });
    if (!replaced) {
      envp.push_back(*entry);
    }
  }
  for (const auto& given : command.env) {
    envp.push_back(const_cast<char*>(given.c_str()));
  }
  envp.push_back(nullptr);
  pid_t pid = -1;
  int spawned =
      ::posix_spawnp(&pid, argv[0], &setup.actions, &setup.attributes, argv.data(), envp.data());
  if (spawned != 0) {
    return errorf(spawned == ENOENT ? ErrorKind::NotFound : ErrorKind::Internal,
                  "cannot run {}: {}", command.argv[0], std::strerror(spawned));
  }
  out.write.reset();
  err.write.reset();

  CommandOutput result;
  bool errTruncated = false;
  auto deadline = std::chrono::steady_clock::now() + command.timeout;
  bool outOpen = true;
  bool errOpen = true;
  while (outOpen || errOpen) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timedOut = true;
      ::kill(pid, SIGKILL);
      break;
    }
    std::array<pollfd, 2> fds{pollfd{outOpen ? out.read.get() : -1, POLLIN, 0},
                              pollfd{errOpen ? err.read.get() : -1, POLLIN, 0}};
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (ready <= 0) {
      continue;
    }
    if (outOpen && fds[0].revents != 0) {
      outOpen = drainInto(out.read.get(), result.out, command.maxOutBytes, result.outTruncated);
    }
    if (errOpen && fds[1].revents != 0) {
      errOpen = drainInto(err.read.get(), result.err, command.maxErrBytes, errTruncated);
    }
  }
  // Both pipes closed is not an exit: a child that closed them may still run.
  int status = 0;
  while (!result.timedOut) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      result.timedOut = true;
      ::kill(pid, SIGKILL);
      break;
    }
    ::usleep(5000);
  }
  if (result.timedOut) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (WIFEXITED(status)) {
    result.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exitCode = 128 + WTERMSIG(status);
  }
  return result;
}

std::string lastLine(std::string_view text, std::size_t maxBytes) {
  auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && isSpace(text.back())) {
    text.remove_suffix(1);
  }
  if (auto newline = text.rfind('\n'); newline != std::string_view::npos) {
    text.remove_prefix(newline + 1);
  }
  while (!text.empty() && isSpace(text.front())) {
    text.remove_prefix(1);
  }
  return std::string(text.substr(0, maxBytes));
}

}  // namespace overmesh
