#include "api/handler_pool.h"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <system_error>
#include <utility>

#include "common/quote.h"

namespace overmesh::api {

HandlerPool::HandlerPool(std::string name, HandlerPoolLimits limits)
    : name_(std::move(name)), limits_([&limits] {
        limits.maxThreads = std::max(limits.maxThreads, 1u);
        limits.minThreads = std::min(limits.minThreads, limits.maxThreads);
        return limits;
      }()) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(Job job) {
  reapExited();
  std::lock_guard lock(mutex_);
  if (stopping_) {
    return false;
  }
  // An idle worker not yet promised to an earlier job takes it.
  if (idle_ > queue_.size()) {
    queue_.push_back(std::move(job));
    workAvailable_.notify_one();
    return true;
  }
  // Else a new worker, while below the cap (it finds the job when it starts waiting).
  if (alive_ < limits_.maxThreads) {
    std::size_t index = nextIndex_++;
    try {
      threads_.emplace(index, std::thread([this, index] { work(index); }));
      ++alive_;
      queue_.push_back(std::move(job));
      return true;
    } catch (const std::system_error& error) {
      // No thread (the process's limit): the workers there are take it, if any.
      spdlog::warn("http server: cannot start a {} handler thread: {}", name_, error.what());
      if (alive_ == 0) {
        return false;
      }
    }
  }
  // Else it waits for a busy worker, if the queue has room.
  if (queue_.size() >= limits_.maxQueued) {
    return false;
  }
  queue_.push_back(std::move(job));
  workAvailable_.notify_one();
  return true;
}

void HandlerPool::work(std::size_t index) {
  std::string threadName = fmt::format("{}{}", name_, index % 100);
  pthread_setname_np(pthread_self(), threadName.substr(0, 15).c_str());
  std::unique_lock lock(mutex_);
  while (true) {
    ++idle_;
    bool woken = workAvailable_.wait_for(lock, limits_.idleExit,
                                         [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (stopping_) {
      break;
    }
    if (!woken) {
      if (alive_ > limits_.minThreads) {
        break;  // idle too long, and more threads than the floor
      }
      continue;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      job();
    } catch (const std::exception& error) {
      spdlog::error("http server: a handler job failed: {}", printable(error.what()));
    } catch (...) {
      spdlog::error("http server: a handler job failed: unknown exception");
    }
    job = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
  --alive_;
  exited_.push_back(index);
}

void HandlerPool::reapExited() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t index : exited_) {
      auto it = threads_.find(index);
      if (it != threads_.end()) {
        done.push_back(std::move(it->second));
        threads_.erase(it);
      }
    }
    exited_.clear();
  }
  for (std::thread& thread : done) {
    thread.join();
  }
}

void HandlerPool::stop() {
  std::deque<Job> dropped;
  std::map<std::size_t, std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
    threads.swap(threads_);
    exited_.clear();
  }
  workAvailable_.notify_all();
  dropped.clear();
  for (auto& [index, thread] : threads) {
    thread.join();
  }
}

std::size_t HandlerPool::threadCount() const {
  std::lock_guard lock(mutex_);
  return alive_;
}

std::size_t HandlerPool::queuedCount() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace overmesh::api
