#include "agent/task_report_sender.h"

#include <spdlog/spdlog.h>

namespace overmesh::agent {

bool isFinalState(const std::string& state) {
  return state == "exited" || state == "failed" || state == "shutdown" || state == "rejected";
}

TaskReportSender::TaskReportSender(StatusReporter reporter) : reporter_(std::move(reporter)) {}

TaskReport TaskReportSender::merged(const std::string& taskId, TaskReport report) const {
  if (report.state != "running") {
    report.health.clear();
    return report;
  }
  if (auto health = health_.find(taskId); health != health_.end()) {
    report.health = health->second.health;
    if (report.message.empty()) {
      report.message = health->second.message;
    }
  }
  return report;
}

bool TaskReportSender::deliver(const std::string& taskId, const TaskReport& report) {
  if (auto last = last_.find(taskId); last != last_.end() && last->second == report) {
    return true;
  }
  auto sent = reporter_(taskId, report);
  if (!sent) {
    spdlog::warn("task agent: cannot report task {} {} (health \"{}\"): {}", taskId, report.state,
                 report.health, sent.error().message);
    return false;
  }
  last_[taskId] = report;
  return true;
}

bool TaskReportSender::send(const api::Task& task, TaskReport report) {
  std::lock_guard lock(sendMutex_);
  report = merged(task.id, std::move(report));
  TaskReport recorded{task.state, task.message, task.exitCode, task.health};
  if (!last_.contains(task.id) && recorded == report) {
    // A restarted agent finds the manager already knows: nothing to send.
    last_[task.id] = report;
    return true;
  }
  return deliver(task.id, report);
}

void TaskReportSender::setHealth(const std::string& taskId, std::string health,
                                 std::string message) {
  std::lock_guard lock(sendMutex_);
  health_[taskId] = Health{std::move(health), std::move(message)};
  auto last = last_.find(taskId);
  if (last == last_.end() || last->second.state != "running") {
    return;
  }
  // The health message replaces the previous one; a running report has no other.
  TaskReport report{"running", "", 0, ""};
  deliver(taskId, merged(taskId, report));
}

bool TaskReportSender::reportedFinal(const std::string& taskId) const {
  std::lock_guard lock(sendMutex_);
  auto last = last_.find(taskId);
  return last != last_.end() && isFinalState(last->second.state);
}

void TaskReportSender::clearHealth(const std::string& taskId) {
  std::lock_guard lock(sendMutex_);
  health_.erase(taskId);
}

void TaskReportSender::retain(const std::set<std::string>& taskIds) {
  std::lock_guard lock(sendMutex_);
  std::erase_if(last_, [&](const auto& entry) { return !taskIds.contains(entry.first); });
  std::erase_if(health_, [&](const auto& entry) { return !taskIds.contains(entry.first); });
}

}  // namespace overmesh::agent
