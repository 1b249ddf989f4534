#include "orchestrator/task_status.h"

#include <fmt/format.h>

namespace overmesh::orchestrator {

namespace {

// Long enough for any error the runtime reports, short enough that a hostile or runaway
// message cannot bloat every record that quotes it.
constexpr std::size_t kMaxQuotedMessage = 256;

std::string boundedMessage(const std::string& message) {
  if (message.size() <= kMaxQuotedMessage) {
    return message;
  }
  std::size_t cut = kMaxQuotedMessage;
  // Never cut a UTF-8 sequence in half: back up over continuation bytes (10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  return message.substr(0, cut) + "…";
}

std::string detailOrExitCode(const api::Task& task) {
  if (task.message.empty()) {
    return fmt::format("exit code {}", task.exitCode);
  }
  return boundedMessage(task.message);
}

}  // namespace

bool shouldRun(const api::Task& task) { return task.desiredState == "running"; }

bool isTerminalState(const std::string& state) {
  return state == "exited" || state == "failed" || state == "shutdown" || state == "rejected";
}

bool runsHealthy(const api::Task& task) {
  return task.state == "running" && (!task.healthCheck || task.health == "healthy");
}

bool endedByItself(const api::Task& task) {
  return task.state == "exited" || task.state == "failed" || task.state == "rejected" ||
         task.health == "unhealthy";
}

bool endedInFailure(const api::Task& task) {
  return task.state == "failed" || task.state == "rejected" ||
         (task.state == "exited" && task.exitCode != 0) || task.health == "unhealthy";
}

std::optional<std::string> endReason(const api::Task& task) {
  if (task.state == "exited") {
    return fmt::format("task exited (exit code {})", task.exitCode);
  }
  if (task.state == "failed") {
    return fmt::format("task failed: {}", detailOrExitCode(task));
  }
  if (task.state == "rejected") {
    return fmt::format("task rejected: {}", detailOrExitCode(task));
  }
  if (task.state == "shutdown") {
    // Stopped although it should run (e.g. its node restarted and did not start it again).
    return task.message.empty() ? std::string("task stopped")
                                : fmt::format("task stopped: {}", boundedMessage(task.message));
  }
  if (task.health == "unhealthy") {
    return std::string("unhealthy");
  }
  return std::nullopt;
}

}  // namespace overmesh::orchestrator
