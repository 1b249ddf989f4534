#include "manager/watch_hub.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/api_error.h"
#include "common/clock.h"
#include "state/keys.h"
#include "store/sqlite/sqlite_store.h"
#include "support/scratch.h"

namespace overmesh::manager {
namespace {

using namespace std::chrono_literals;

// Collects the answers one or more waiters receive, from any thread.
class Answers {
 public:
  WatchWaiter waiter() {
    return WatchWaiter{[this](const WatchAnswer& answer) {
                         std::lock_guard lock(mutex_);
                         answers_.push_back(answer);
                         changed_.notify_all();
                       },
                       {}};
  }
  // Waits until `count` answers arrived; false after `timeout`.
  bool await(std::size_t count, std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return answers_.size() >= count; });
  }
  std::vector<WatchAnswer> all() {
    std::lock_guard lock(mutex_);
    return answers_;
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return answers_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WatchAnswer> answers_;
};

struct Decoded {
  std::vector<std::string> keys;
  std::vector<store::Revision> revisions;
  store::Revision nextRevision = 0;
};

Decoded decode(const WatchAnswer& answer) {
  EXPECT_EQ(answer->status, 200) << answer->body;
  auto json = nlohmann::json::parse(answer->body);
  Decoded decoded;
  for (const auto& event : json.at("events")) {
    decoded.keys.push_back(event.at("kv").at("key").get<std::string>());
    decoded.revisions.push_back(event.at("kv").at("modRevision").get<store::Revision>());
  }
  decoded.nextRevision = json.at("nextRevision").get<store::Revision>();
  return decoded;
}

std::string network(const std::string& id) { return state::keys::network(id); }
const std::string kSecret = std::string(state::keys::kCredentials) + "secret";

class WatchHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::open((dir_.path() / "store.db").string(), clock_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->put(network("before"), "{}"));
  }
  void TearDown() override {
    if (hub_) {
      hub_->stop();
    }
    store_->close();
  }

  void startHub(WatchHubOptions options = {}) {
    options.followWait = 200ms;
    options.abandonedCheck = 100ms;
    hub_ = std::make_unique<WatchHub>(*store_, options);
    ASSERT_TRUE(hub_->start());
  }
  store::Revision put(const std::string& key) {
    auto revision = store_->put(key, "{}");
    EXPECT_TRUE(revision) << revision.error().message;
    return revision.value_or(0);
  }
  // Waits until the hub has read every revision up to `revision`.
  void awaitHubAt(store::Revision revision) {
    for (int i = 0; i < 300 && hub_->stats().next <= revision; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_GT(hub_->stats().next, revision);
  }

  testing::ScratchDir dir_;
  SystemClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<WatchHub> hub_;
};

TEST_F(WatchHubTest, AnswersRingEventsInRevisionOrderAtOnce) {
  startHub();
  auto first = put(network("a"));
  put(network("b"));
  auto last = put(network("c"));
  awaitHubAt(last);
  Answers answers;
  hub_->watch(first, 5s, answers.waiter());
  ASSERT_EQ(answers.size(), 1u);  // answered on the calling thread
  auto decoded = decode(answers.all()[0]);
  EXPECT_EQ(decoded.keys, (std::vector<std::string>{network("a"), network("b"), network("c")}));
  EXPECT_TRUE(std::is_sorted(decoded.revisions.begin(), decoded.revisions.end()));
  EXPECT_EQ(decoded.nextRevision, last + 1);
}

TEST_F(WatchHubTest, ParkedWaiterWakesOnAVisibleEvent) {
  startHub();
  auto next = hub_->stats().next;
  Answers answers;
  hub_->watch(next, 10s, answers.waiter());
  EXPECT_FALSE(answers.await(1, 100ms));
  EXPECT_EQ(hub_->stats().parked, 1u);
  auto revision = put(network("x"));
  ASSERT_TRUE(answers.await(1, 2s));
  auto decoded = decode(answers.all()[0]);
  EXPECT_EQ(decoded.keys, std::vector<std::string>{network("x")});
  EXPECT_EQ(decoded.nextRevision, revision + 1);
  EXPECT_EQ(hub_->stats().parked, 0u);
}

TEST_F(WatchHubTest, InvisibleWritesDoNotWakeAndTheDeadlineAnswersTheirNextRevision) {
  startHub();
  auto next = hub_->stats().next;
  Answers answers;
  auto started = std::chrono::steady_clock::now();
  hub_->watch(next, 400ms, answers.waiter());
  auto secret = put(kSecret);
  EXPECT_FALSE(answers.await(1, 200ms));
  ASSERT_TRUE(answers.await(1, 2s));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 390ms);
  auto decoded = decode(answers.all()[0]);
  EXPECT_TRUE(decoded.keys.empty());
  EXPECT_EQ(decoded.nextRevision, secret + 1);  // the agent does not rescan the secret write
}

TEST_F(WatchHubTest, AWaitOfZeroAnswersAtOnceWithoutEvents) {
  startHub();
  auto next = hub_->stats().next;
  Answers answers;
  hub_->watch(next + 5, 0ms, answers.waiter());
  ASSERT_EQ(answers.size(), 1u);
  auto decoded = decode(answers.all()[0]);
  EXPECT_TRUE(decoded.keys.empty());
  EXPECT_EQ(decoded.nextRevision, next + 5);  // never behind what the agent asked for
}

TEST_F(WatchHubTest, WaitersOfTheSameRevisionShareOneEncoding) {
  startHub();
  auto next = hub_->stats().next;
  Answers same;
  Answers other;
  for (int i = 0; i < 50; ++i) {
    hub_->watch(next, 10s, same.waiter());
  }
  auto first = put(network("x"));
  ASSERT_TRUE(same.await(50));
  auto answers = same.all();
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.get(), answers[0].get());
  }
  auto encodings = hub_->stats().encodings;
  // A late waiter with the same question at the same revision gets the same bytes too.
  hub_->watch(next, 10s, same.waiter());
  ASSERT_EQ(same.size(), 51u);
  EXPECT_EQ(same.all()[50].get(), answers[0].get());
  EXPECT_EQ(hub_->stats().encodings, encodings);
  // Another `from` is another answer.
  hub_->watch(first, 10s, other.waiter());
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other.all()[0]->body, answers[0]->body);
  hub_->watch(first + 1, 0ms, other.waiter());
  EXPECT_NE(other.all()[1]->body, answers[0]->body);
}

TEST_F(WatchHubTest, FromOlderThanTheRingReadsTheStore) {
  WatchHubOptions options;
  options.ringEvents = 2;
  startHub(options);
  auto first = put(network("a"));
  put(network("b"));
  put(network("c"));
  auto last = put(network("d"));
  awaitHubAt(last);
  EXPECT_EQ(hub_->stats().ringEvents, 2u);
  EXPECT_GT(hub_->stats().ringStart, first);
  Answers answers;
  hub_->watch(first, 5s, answers.waiter());
  ASSERT_EQ(answers.size(), 1u);
  auto decoded = decode(answers.all()[0]);
  EXPECT_EQ(decoded.keys,
            (std::vector<std::string>{network("a"), network("b"), network("c"), network("d")}));
  EXPECT_EQ(hub_->stats().storeReads, 1u);
}

TEST_F(WatchHubTest, CompactedHistoryAnswersCompacted) {
  startHub();
  auto last = put(network("a"));
  ASSERT_TRUE(store_->compact(last));
  Answers answers;
  hub_->watch(1, 5s, answers.waiter());
  ASSERT_EQ(answers.size(), 1u);
  auto error = api::errorFromResponse(*answers.all()[0]);
  EXPECT_EQ(error.kind, ErrorKind::Compacted) << error.message;
}

TEST_F(WatchHubTest, StopAnswersEveryWaiterUnavailable) {
  startHub();
  auto next = hub_->stats().next;
  Answers answers;
  for (int i = 0; i < 3; ++i) {
    hub_->watch(next + i, 20s, answers.waiter());
  }
  auto started = std::chrono::steady_clock::now();
  hub_->stop();
  ASSERT_TRUE(answers.await(3, 0ms));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  for (const auto& answer : answers.all()) {
    EXPECT_EQ(api::errorFromResponse(*answer).kind, ErrorKind::Unavailable);
  }
  hub_->watch(next, 1s, answers.waiter());  // and later ones at once
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(api::errorFromResponse(*answers.all()[3]).kind, ErrorKind::Unavailable);
}

TEST_F(WatchHubTest, ClosingTheStoreAnswersEveryWaiter) {
  startHub();
  Answers answers;
  hub_->watch(hub_->stats().next, 20s, answers.waiter());
  store_->close();
  ASSERT_TRUE(answers.await(1, 3s));
  EXPECT_EQ(api::errorFromResponse(*answers.all()[0]).kind, ErrorKind::Unavailable);
}

TEST_F(WatchHubTest, AbandonedWaitersAreDropped) {
  startHub();
  bool replied = false;
  WatchWaiter waiter{[&replied](const WatchAnswer&) { replied = true; }, [] { return true; }};
  hub_->watch(hub_->stats().next, 20s, std::move(waiter));
  for (int i = 0; i < 100 && hub_->stats().parked > 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(hub_->stats().parked, 0u);
  EXPECT_FALSE(replied);
}

}  // namespace
}  // namespace overmesh::manager
