#include "daemon/connection_revoker.h"

#include <spdlog/spdlog.h>

namespace overmesh::daemon {

ConnectionRevoker::ConnectionRevoker(Close close, std::chrono::milliseconds grace)
    : close_(std::move(close)), grace_(grace), thread_([this] { run(); }) {}

ConnectionRevoker::~ConnectionRevoker() { stop(); }

void ConnectionRevoker::revoke(const std::string& nodeId) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({std::chrono::steady_clock::now() + grace_, nodeId});
  }
  wake_.notify_all();
}

void ConnectionRevoker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

// Thread: cuts each removed node's connections once its grace has passed, until stop().
void ConnectionRevoker::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (pending_.empty()) {
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      continue;
    }
    auto due = pending_.front().due;
    if (std::chrono::steady_clock::now() < due) {
      wake_.wait_until(lock, due, [this] { return stopping_; });
      continue;
    }
    std::string nodeId = std::move(pending_.front().nodeId);
    pending_.pop_front();
    lock.unlock();  // the server's connection threads must not wait for this one
    std::size_t closed = close_(nodeId);
    spdlog::info("node {} removed: {} of its connections closed", nodeId, closed);
    lock.lock();
  }
}

}  // namespace overmesh::daemon
