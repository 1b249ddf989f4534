#include "agent/health_monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

namespace overmesh::agent {
namespace {

// The scheduler looks again at least this often, whatever it was told: a bound on how
// late a check can start if a wake-up is ever lost.
constexpr std::chrono::milliseconds kSchedulerIdle{1000};

}  // namespace

HealthMonitor::HealthMonitor(runtime::TaskRuntime& runtime, const Clock& clock, OnChange onChange,
                             std::size_t maxInFlight)
    : runtime_(runtime),
      clock_(clock),
      onChange_(std::move(onChange)),
      maxInFlight_(std::max<std::size_t>(maxInFlight, 1)) {}

HealthMonitor::~HealthMonitor() { stop(); }

void HealthMonitor::start() {
  scheduler_ = std::thread([this] { run(); });
}

void HealthMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    ++wakeups_;
  }
  changed_.notify_all();
  if (scheduler_.joinable()) {
    scheduler_.join();
  }
  waitForChecks();
}

std::optional<HealthMonitor::Initial> HealthMonitor::watch(const api::Task& task) {
  if (!task.healthCheck) {
    return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  if (stopping_ || tasks_.contains(task.id)) {
    return std::nullopt;
  }
  Watched watched;
  watched.generation = nextId_++;
  watched.command = task.healthCheck->command;
  watched.settings = healthSettings(*task.healthCheck);
  watched.since = clock_.now();
  watched.due = watched.since + watched.settings.interval;
  if (task.state == "running" && (task.health == "healthy" || task.health == "unhealthy")) {
    watched.progress.health = task.health;
    watched.progress.passedOnce = true;
    if (task.health == "unhealthy") {
      watched.progress.failures = watched.settings.retries;
      watched.progress.message = task.message;
    }
  }
  Initial initial{watched.progress.health, watched.progress.message};
  tasks_.emplace(task.id, std::move(watched));
  ++wakeups_;
  changed_.notify_all();
  return initial;
}

void HealthMonitor::unwatch(const std::string& taskId) {
  std::lock_guard lock(mutex_);
  tasks_.erase(taskId);
}

void HealthMonitor::retain(const std::set<std::string>& taskIds) {
  std::lock_guard lock(mutex_);
  std::erase_if(tasks_, [&](const auto& entry) { return !taskIds.contains(entry.first); });
}

std::string HealthMonitor::health(const std::string& taskId) const {
  std::lock_guard lock(mutex_);
  auto found = tasks_.find(taskId);
  return found == tasks_.end() ? "" : found->second.progress.health;
}

std::optional<std::chrono::steady_clock::time_point> HealthMonitor::runDueChecks() {
  std::unique_lock lock(mutex_);
  joinFinished(lock);
  if (stopping_) {
    return std::nullopt;
  }
  auto now = clock_.now();
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto& [taskId, watched] : tasks_) {
    if (watched.inFlight) {
      continue;  // its next due time is set when it ends
    }
    if (watched.due > now) {
      next = next ? std::min(*next, watched.due) : watched.due;
      continue;
    }
    if (inFlight_ >= maxInFlight_) {
      continue;  // a check that ends wakes the scheduler
    }
    std::uint64_t threadId = nextId_++;
    try {
      // Thread: one health check of one task; ends when the exec returns (at the latest
      // at the check's timeout).
      threads_.emplace(threadId, std::thread([this, taskId, generation = watched.generation,
                                              command = watched.command,
                                              timeout = watched.settings.timeout, threadId] {
                         runCheck(taskId, generation, command, timeout, threadId);
                       }));
    } catch (const std::system_error& error) {
      // Out of threads: this check waits for the next interval, and the monitor goes on.
      spdlog::error("task {}: cannot start a health check: {}", taskId, error.what());
      watched.due = now + watched.settings.interval;
      next = next ? std::min(*next, watched.due) : watched.due;
      continue;
    }
    watched.inFlight = true;
    ++inFlight_;
  }
  return next;
}

void HealthMonitor::runCheck(std::string taskId, std::uint64_t generation,
                             std::vector<std::string> command, std::chrono::milliseconds timeout,
                             std::uint64_t threadId) {
  Result<runtime::ExecResult> result =
      command.empty() ? errorf(ErrorKind::InvalidArgument, "the health check has no command")
                      : runtime_.exec(taskId, command, timeout);
  CheckOutcome outcome = checkOutcome(result, timeout);

  std::optional<Initial> change;
  {
    std::lock_guard lock(mutex_);
    auto watched = tasks_.find(taskId);
    if (!stopping_ && watched != tasks_.end() && watched->second.generation == generation) {
      auto& entry = watched->second;
      bool inStartPeriod = clock_.now() < entry.since + entry.settings.startPeriod;
      if (applyCheck(entry.progress, entry.settings, outcome, inStartPeriod)) {
        change = Initial{entry.progress.health, entry.progress.message};
      }
    }
  }
  // Called before the task's next check can be scheduled, so one task's changes reach
  // onChange in the order they happened.
  if (change) {
    spdlog::info("task {}: health {}{}{}", taskId, change->health,
                 change->message.empty() ? "" : ": ", change->message);
    onChange_(taskId, change->health, change->message);
  }
  {
    std::lock_guard lock(mutex_);
    auto watched = tasks_.find(taskId);
    if (watched != tasks_.end() && watched->second.generation == generation) {
      watched->second.inFlight = false;
      watched->second.due = clock_.now() + watched->second.settings.interval;
    }
    --inFlight_;
    finished_.push_back(threadId);
    ++wakeups_;
  }
  changed_.notify_all();
}

void HealthMonitor::joinFinished(std::unique_lock<std::mutex>& lock) {
  std::vector<std::thread> ended;
  for (auto id : finished_) {
    if (auto thread = threads_.find(id); thread != threads_.end()) {
      ended.push_back(std::move(thread->second));
      threads_.erase(thread);
    }
  }
  finished_.clear();
  if (ended.empty()) {
    return;
  }
  lock.unlock();
  for (auto& thread : ended) {
    thread.join();  // it has returned, or is returning, from runCheck
  }
  lock.lock();
}

void HealthMonitor::waitForChecks() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return inFlight_ == 0; });
  joinFinished(lock);
}

// Thread: the health-check scheduler; starts due checks, sleeps until the next is due.
void HealthMonitor::run() {
  while (true) {
    std::uint64_t seen = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      seen = wakeups_;
    }
    auto next = runDueChecks();
    std::unique_lock lock(mutex_);
    auto wait = kSchedulerIdle;
    if (next) {
      auto untilDue = std::chrono::ceil<std::chrono::milliseconds>(*next - clock_.now());
      wait = std::clamp(untilDue, std::chrono::milliseconds(0), kSchedulerIdle);
    }
    changed_.wait_for(lock, wait, [&] { return stopping_ || wakeups_ != seen; });
  }
}

}  // namespace overmesh::agent
