#pragma once

// An UnderlayFilter that records what it is asked to do, for the agent's underlay guard
// tests: the member sets applied, in order, with failure injection. Thread-safe (the guard
// calls it from its own thread); waitForApplies() lets a test wait for that thread.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "dataplane/underlay_filter.h"

namespace overmesh::testing {

class FakeUnderlayFilter final : public dataplane::UnderlayFilter {
 public:
  // Whether installed() reports an existing table (a previous daemon's).
  explicit FakeUnderlayFilter(bool tableExists = false) : tableExists_(tableExists) {}

  // As the real filter: members unchanged since the last success change nothing (not even
  // a table someone else deleted) and are not recorded as applied.
  Status apply(const std::set<Ipv4Address>& members) override {
    std::lock_guard lock(mutex_);
    ++attempts_;
    if (failuresLeft_ > 0) {
      --failuresLeft_;
      remembered_.reset();
      changed_.notify_all();
      return errorf(ErrorKind::Unavailable, "injected failure");
    }
    if (remembered_ == members) {
      changed_.notify_all();
      return {};
    }
    remembered_ = members;
    applied_.push_back(members);
    tableExists_ = true;
    changed_.notify_all();
    return {};
  }

  Result<bool> installed() override {
    std::lock_guard lock(mutex_);
    return tableExists_;
  }

  Status remove() override {
    std::lock_guard lock(mutex_);
    tableExists_ = false;
    remembered_.reset();
    ++removes_;
    return {};
  }

  Result<dataplane::UnderlayDropCounters> dropCounters() override {
    return dataplane::UnderlayDropCounters{};
  }

  // Someone else deletes the table (a firewalld reload): installed() says false from now
  // until the next apply. Not counted as a remove().
  void vanish() {
    std::lock_guard lock(mutex_);
    tableExists_ = false;
  }

  // The next `count` applies fail.
  void failNext(int count) {
    std::lock_guard lock(mutex_);
    failuresLeft_ = count;
  }

  // Waits until at least `count` applies succeeded; false on timeout.
  bool waitForApplies(std::size_t count,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return applied_.size() >= count; });
  }

  std::vector<std::set<Ipv4Address>> applied() const {
    std::lock_guard lock(mutex_);
    return applied_;
  }

  int attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }

  int removes() const {
    std::lock_guard lock(mutex_);
    return removes_;
  }

  bool tableExists() const {
    std::lock_guard lock(mutex_);
    return tableExists_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool tableExists_;
  std::optional<std::set<Ipv4Address>> remembered_;  // as the real filter's applied_
  int failuresLeft_ = 0;
  int attempts_ = 0;
  int removes_ = 0;
  std::vector<std::set<Ipv4Address>> applied_;
};

// A filter to hand to an owner (the guard) that forwards to `fake`, which the test keeps
// and can look at after the owner is gone.
inline std::unique_ptr<dataplane::UnderlayFilter> forwardingTo(
    std::shared_ptr<FakeUnderlayFilter> fake) {
  class Forwarding final : public dataplane::UnderlayFilter {
   public:
    explicit Forwarding(std::shared_ptr<FakeUnderlayFilter> fake) : fake_(std::move(fake)) {}
    Status apply(const std::set<Ipv4Address>& members) override { return fake_->apply(members); }
    Result<bool> installed() override { return fake_->installed(); }
    Status remove() override { return fake_->remove(); }
    Result<dataplane::UnderlayDropCounters> dropCounters() override {
      return fake_->dropCounters();
    }

   private:
    std::shared_ptr<FakeUnderlayFilter> fake_;
  };
  return std::make_unique<Forwarding>(std::move(fake));
}

}  // namespace overmesh::testing
