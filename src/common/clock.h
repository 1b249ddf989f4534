#pragma once

// Time is injected (Katran/Envoy style) so that lease expiry, node liveness and other
// timeouts are tested without sleeping.

#include <atomic>
#include <chrono>

namespace overmesh {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
};

// A clock that moves only when told to; safe to read from any thread.
class ManualClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(nanos_.load(std::memory_order_acquire)));
  }
  void advance(std::chrono::nanoseconds by) { nanos_.fetch_add(by.count()); }

 private:
  std::atomic<std::int64_t> nanos_{1'000'000'000};
};

}  // namespace overmesh
