#include "api/handler_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace overmesh::api {
namespace {

using namespace std::chrono_literals;

constexpr auto kPoolWait = 30s;

// Jobs that block until released, counting how many started.
class Blocker {
 public:
  HandlerPool::Job job() {
    return [this] {
      std::unique_lock lock(mutex_);
      ++started_;
      changed_.notify_all();
      changed_.wait_for(lock, kPoolWait, [this] { return released_; });
    };
  }
  bool waitStarted(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kPoolWait, [&] { return started_ >= count; });
  }
  int started() {
    std::lock_guard lock(mutex_);
    return started_;
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  bool released_ = false;
};

bool eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + kPoolWait;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(HandlerPoolTest, GrowsToItsCapThenQueuesThenRefuses) {
  HandlerPool pool("test", {.minThreads = 1, .maxThreads = 3, .maxQueued = 2});
  Blocker blocker;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.submit(blocker.job()));
  }
  ASSERT_TRUE(blocker.waitStarted(3));
  EXPECT_EQ(pool.threadCount(), 3u);
  EXPECT_TRUE(pool.submit(blocker.job()));
  EXPECT_TRUE(pool.submit(blocker.job()));
  EXPECT_EQ(pool.queuedCount(), 2u);

  EXPECT_FALSE(pool.submit(blocker.job())) << "queue full";
  EXPECT_EQ(pool.threadCount(), 3u) << "never past the cap";

  blocker.release();
  EXPECT_TRUE(eventually([&] { return blocker.started() == 5; })) << "queued jobs run";
}

TEST(HandlerPoolTest, IdleThreadsAboveTheFloorExit) {
  HandlerPool pool("test", {.minThreads = 1, .maxThreads = 4, .idleExit = 50ms});
  Blocker blocker;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pool.submit(blocker.job()));
  }
  ASSERT_TRUE(blocker.waitStarted(4));
  blocker.release();

  EXPECT_TRUE(eventually([&] { return pool.threadCount() == 1; }));
  std::atomic<bool> ran{false};
  ASSERT_TRUE(pool.submit([&ran] { ran = true; }));
  EXPECT_TRUE(eventually([&] { return ran.load(); })) << "the pool still works after";
}

TEST(HandlerPoolTest, AnIdleThreadIsReusedRatherThanANewOneStarted) {
  HandlerPool pool("test", {.minThreads = 1, .maxThreads = 8});
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(pool.submit([&ran] { ++ran; }));
    ASSERT_TRUE(eventually([&] { return ran.load() == i + 1; }));
  }
  EXPECT_EQ(pool.threadCount(), 1u);
}

TEST(HandlerPoolTest, AThrowingJobDoesNotKillItsThread) {
  HandlerPool pool("test", {.minThreads = 1, .maxThreads = 1});
  ASSERT_TRUE(pool.submit([] { throw std::runtime_error("job bug"); }));
  std::atomic<bool> ran{false};
  ASSERT_TRUE(pool.submit([&ran] { ran = true; }));

  EXPECT_TRUE(eventually([&] { return ran.load(); }));
}

TEST(HandlerPoolTest, StopDropsQueuedJobsUnrunAndRefusesNewOnes) {
  HandlerPool pool("test", {.minThreads = 1, .maxThreads = 1});
  Blocker blocker;
  ASSERT_TRUE(pool.submit(blocker.job()));
  ASSERT_TRUE(blocker.waitStarted(1));
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  std::atomic<bool> queuedRan{false};
  ASSERT_TRUE(pool.submit([token = std::move(token), &queuedRan] { queuedRan = true; }));

  std::thread stopper([&] { pool.stop(); });
  // The worker is blocked: only stop() empties the queue.
  EXPECT_TRUE(eventually([&] { return pool.queuedCount() == 0; }));
  blocker.release();
  stopper.join();

  EXPECT_FALSE(queuedRan.load());
  EXPECT_TRUE(watch.expired()) << "the dropped job was destroyed";
  EXPECT_FALSE(pool.submit([] {}));
  EXPECT_EQ(pool.threadCount(), 0u);
}

}  // namespace
}  // namespace overmesh::api
