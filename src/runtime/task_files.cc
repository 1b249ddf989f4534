#include "runtime/task_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json.h"

namespace overmesh::runtime {
namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr const char* kLabVariable = "OVERMESH_LAB";

struct SpecFile {
  std::string taskId;
  std::string hostname;
  std::vector<std::string> command;
  std::vector<std::string> env;
  std::string netnsPath;
};

void to_json(nlohmann::json& json, const SpecFile& spec) {
  json = nlohmann::json{{"taskId", spec.taskId},
                        {"hostname", spec.hostname},
                        {"command", spec.command},
                        {"env", spec.env},
                        {"netnsPath", spec.netnsPath}};
}

void from_json(const nlohmann::json& json, SpecFile& spec) {
  readField(json, "taskId", spec.taskId);
  readField(json, "hostname", spec.hostname);
  readField(json, "command", spec.command);
  readField(json, "env", spec.env);
  readField(json, "netnsPath", spec.netnsPath);
}

std::string_view keyOf(std::string_view entry) { return entry.substr(0, entry.find('=')); }

// Appends `entry`, replacing an earlier entry with the same key.
void setVariable(std::vector<std::string>& env, std::string entry) {
  auto key = keyOf(entry);
  auto same = std::find_if(env.begin(), env.end(),
                           [&](const std::string& existing) { return keyOf(existing) == key; });
  if (same != env.end()) {
    *same = std::move(entry);
  } else {
    env.push_back(std::move(entry));
  }
}

}  // namespace

// Found by ADL from nlohmann::json (ExitRecord lives in this namespace).
void to_json(nlohmann::json& json, const ExitRecord& record) {
  json = nlohmann::json{{"exitCode", record.exitCode}, {"signal", record.signal}};
}

void from_json(const nlohmann::json& json, ExitRecord& record) {
  readField(json, "exitCode", record.exitCode);
  readField(json, "signal", record.signal);
}

Status validateTaskId(std::string_view taskId) {
  bool valid = !taskId.empty() && taskId.size() <= kMaxNameLength &&
               std::all_of(taskId.begin(), taskId.end(),
                           [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
  if (!valid) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not a valid task id: use 1-64 characters of [a-z0-9]", taskId);
  }
  return {};
}

Status validateTaskSpec(const TaskSpec& spec) {
  if (auto id = validateTaskId(spec.taskId); !id) {
    return id;
  }
  if (spec.hostname.empty() || spec.hostname.size() > kMaxNameLength ||
      spec.hostname.find('\0') != std::string::npos) {
    return errorf(ErrorKind::InvalidArgument,
                  "task {}: \"{}\" is not a valid hostname: use 1-64 characters", spec.taskId,
                  spec.hostname);
  }
  if (spec.command.empty() || spec.command.front().empty()) {
    return errorf(ErrorKind::InvalidArgument, "task {}: the command is empty", spec.taskId);
  }
  for (const auto& entry : spec.env) {
    auto equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos) {
      return errorf(ErrorKind::InvalidArgument,
                    "task {}: environment entry \"{}\" is not KEY=VALUE", spec.taskId, entry);
    }
  }
  if (spec.netnsPath.empty()) {
    return errorf(ErrorKind::InvalidArgument, "task {}: no network namespace given", spec.taskId);
  }
  return {};
}

std::string encodeTaskSpec(const TaskSpec& spec) {
  return dumpJson(
      nlohmann::json(SpecFile{spec.taskId, spec.hostname, spec.command, spec.env, spec.netnsPath}),
      2);
}

Result<TaskSpec> decodeTaskSpec(std::string_view text) {
  auto file = decodeJson<SpecFile>(text, "task spec");
  if (!file) {
    return std::unexpected(file.error());
  }
  TaskSpec spec;
  spec.taskId = std::move(file->taskId);
  spec.hostname = std::move(file->hostname);
  spec.command = std::move(file->command);
  spec.env = std::move(file->env);
  spec.netnsPath = std::move(file->netnsPath);
  return spec;
}

std::vector<std::string> taskEnvironment(const TaskSpec& spec) {
  std::vector<std::string> env = {fmt::format("PATH={}", kDefaultPath), "HOME=/root",
                                  fmt::format("HOSTNAME={}", spec.hostname)};
  if (const char* lab = std::getenv(kLabVariable); lab != nullptr) {
    env.push_back(fmt::format("{}={}", kLabVariable, lab));
  }
  for (const auto& entry : spec.env) {
    setVariable(env, entry);
  }
  return env;
}

std::string pathVariable(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) {
      return entry.substr(5);
    }
  }
  return "";
}

Result<ProcessInfo> readProcessInfo(pid_t pid) {
  auto stat = readWholeFile(fmt::format("/proc/{}/stat", pid));
  if (!stat) {
    // ESRCH shows up as an empty read or ENOENT; either way the process is gone.
    return errorf(ErrorKind::NotFound, "process {} does not exist", pid);
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse from the
  // last ')'. After it come field 3 (state) ... field 22 (starttime).
  auto close = stat->rfind(')');
  if (close == std::string::npos) {
    return errorf(ErrorKind::NotFound, "process {} does not exist", pid);
  }
  std::istringstream fields(stat->substr(close + 1));
  ProcessInfo info;
  fields >> info.state;
  std::string skipped;
  for (int field = 4; field < 22; ++field) {
    fields >> skipped;
  }
  fields >> info.startTime;
  if (!fields) {
    return errorf(ErrorKind::Internal, "cannot parse /proc/{}/stat", pid);
  }
  return info;
}

Result<ProcessIdentity> identityOf(pid_t pid) {
  auto info = readProcessInfo(pid);
  if (!info) {
    return std::unexpected(info.error());
  }
  return ProcessIdentity{pid, info->startTime};
}

bool isRunning(const ProcessIdentity& process) {
  if (process.pid <= 0) {
    return false;
  }
  auto info = readProcessInfo(process.pid);
  return info && info->state != 'Z' && info->state != 'X' && info->startTime == process.startTime;
}

std::string encodeIdentity(const ProcessIdentity& process) {
  return fmt::format("{} {}\n", process.pid, process.startTime);
}

Result<ProcessIdentity> readIdentityFile(const std::string& path) {
  auto text = readWholeFile(path);
  if (!text) {
    return std::unexpected(text.error());
  }
  std::istringstream fields(*text);
  ProcessIdentity process;
  fields >> process.pid >> process.startTime;
  if (!fields || process.pid <= 0) {
    return errorf(ErrorKind::InvalidArgument, "{}: expected \"PID STARTTIME\", got \"{}\"", path,
                  *text);
  }
  return process;
}

ExitRecord exitRecordFromWaitStatus(int waitStatus) {
  if (WIFSIGNALED(waitStatus)) {
    return ExitRecord{128 + WTERMSIG(waitStatus), WTERMSIG(waitStatus)};
  }
  return ExitRecord{WEXITSTATUS(waitStatus), 0};
}

std::string encodeExitRecord(const ExitRecord& record) {
  return dumpJson(nlohmann::json(record)) + "\n";
}

Result<ExitRecord> readExitRecord(const std::string& path) {
  auto text = readWholeFile(path);
  if (!text) {
    return std::unexpected(text.error());
  }
  return decodeJson<ExitRecord>(*text, path);
}

std::string describeExit(const ExitRecord& record) {
  if (record.signal != 0) {
    return fmt::format(
        "killed by signal {} ({})", record.signal,
        sigdescr_np(record.signal) != nullptr ? sigdescr_np(record.signal) : "unknown");
  }
  return fmt::format("exited with code {}", record.exitCode);
}

namespace {

Result<std::string> readFrom(const std::string& path, std::size_t maxBytes, bool tail) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return errorf(ErrorKind::NotFound, "{} does not exist", path);
    }
    return errorf(ErrorKind::Unavailable, "open {}: {}", path, errnoText(errno));
  }
  if (tail) {
    struct stat info {};
    if (fstat(fd, &info) == 0 && static_cast<std::size_t>(info.st_size) > maxBytes) {
      lseek(fd, info.st_size - static_cast<off_t>(maxBytes), SEEK_SET);
    }
  }
  std::string content;
  char buffer[8192];
  while (content.size() < maxBytes) {
    ssize_t n = read(fd, buffer, std::min(sizeof(buffer), maxBytes - content.size()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int error = errno;
      close(fd);
      return errorf(ErrorKind::Unavailable, "read {}: {}", path, errnoText(error));
    }
    if (n == 0) {
      break;
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return content;
}

}  // namespace

Result<std::string> readWholeFile(const std::string& path) {
  return readFrom(path, std::string::npos, false);
}

Result<std::string> readFileTail(const std::string& path, std::size_t maxBytes) {
  return readFrom(path, maxBytes, true);
}

}  // namespace overmesh::runtime
