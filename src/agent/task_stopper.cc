#include "agent/task_stopper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <system_error>

namespace overmesh::agent {

std::chrono::milliseconds stopGraceOf(std::int64_t stopGracePeriodMs) {
  return std::clamp(std::chrono::milliseconds(stopGracePeriodMs), std::chrono::milliseconds(0),
                    kMaxStopGrace);
}

TaskStopper::TaskStopper(runtime::TaskRuntime& runtime, TaskReportSender& sender,
                         std::function<void()> onStopEnded, std::size_t maxWorkers)
    : runtime_(runtime),
      sender_(sender),
      onStopEnded_(std::move(onStopEnded)),
      maxWorkers_(std::max<std::size_t>(maxWorkers, 1)) {}

TaskStopper::~TaskStopper() { shutdown(); }

bool TaskStopper::submit(StopRequest request) {
  {
    std::lock_guard lock(mutex_);
    if (shuttingDown_ || inProgress_.contains(request.taskId)) {
      return false;
    }
    if (idleWorkers_ <= queue_.size() && workers_.size() < maxWorkers_) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (const std::system_error& error) {
        // Out of threads: the queued stops wait for a worker there is; with none, this
        // stop is refused and the reconcile pass asks again.
        spdlog::error("task {}: cannot start a stop worker: {}", request.taskId, error.what());
        if (workers_.empty()) {
          return false;
        }
      }
    }
    inProgress_.insert(request.taskId);
    queue_.push_back(std::move(request));
  }
  changed_.notify_all();
  return true;
}

TaskStopper::Progress TaskStopper::progress() const {
  std::lock_guard lock(mutex_);
  return Progress{inProgress_, stopped_};
}

void TaskStopper::forget(const std::string& taskId) {
  std::lock_guard lock(mutex_);
  stopped_.erase(taskId);
}

bool TaskStopper::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return inProgress_.empty(); });
}

void TaskStopper::shutdown() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    shuttingDown_ = true;
    for (const auto& request : queue_) {
      inProgress_.erase(request.taskId);
    }
    queue_.clear();
    workers.swap(workers_);
  }
  changed_.notify_all();
  for (auto& worker : workers) {
    worker.join();
  }
}

// Thread: a stop worker; takes queued stops until shutdown().
void TaskStopper::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    ++idleWorkers_;
    changed_.wait(lock, [this] { return shuttingDown_ || !queue_.empty(); });
    --idleWorkers_;
    if (shuttingDown_) {
      return;
    }
    StopRequest request = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    bool stopped = execute(request);
    lock.lock();
    inProgress_.erase(request.taskId);
    if (stopped) {
      stopped_.insert(request.taskId);
    }
    lock.unlock();
    changed_.notify_all();
    onStopEnded_();
    lock.lock();
  }
}

bool TaskStopper::execute(const StopRequest& request) {
  const std::string& id = request.taskId;
  if (request.drain.count() > 0) {
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, request.drain, [this] { return shuttingDown_; })) {
      spdlog::info("task {}: stop abandoned: the agent is stopping", id);
      return false;
    }
  }
  auto status = runtime_.status(id);
  if (!status) {
    spdlog::warn("task {}: stop: {}", id, status.error().message);
    return false;
  }
  if (status->state == runtime::TaskState::Exited) {
    // It ended by itself: its own exit is what the reconcile pass reports.
    return false;
  }
  spdlog::info("task {}: stopping (grace {} ms)", id, request.grace.count());
  if (auto stopped = runtime_.stop(id, request.grace); !stopped) {
    spdlog::error("task {}: stop: {}", id, stopped.error().message);
    return false;  // the reconcile pass asks again
  }
  if (request.record) {
    const api::Task& record = *request.record;
    sender_.send(
        record, TaskReport{"shutdown", record.message.empty() ? "stopped" : record.message, 0, ""});
  }
  spdlog::info("task {} stopped", id);
  return true;
}

}  // namespace overmesh::agent
