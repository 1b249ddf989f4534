// The agent's image puller with a fake store: pulls run off the caller's thread, one per
// reference, at most two at once; failures are held off; progress wakes are rate-limited;
// stop() abandons a pull in flight.

#include "agent/image_puller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/fake_image_store.h"

namespace overmesh::testing {
namespace {

using std::chrono::milliseconds;
using Kind = agent::ImagePullState::Kind;

constexpr milliseconds kPatience{5000};
const std::string kWeb = "198.18.0.101:5000/web:1";
const std::string kApi = "198.18.0.101:5000/api:1";
const std::string kDb = "198.18.0.101:5000/db:1";

class ImagePullerTest : public ::testing::Test {
 protected:
  std::unique_ptr<agent::ImagePuller> makePuller(agent::ImagePullerOptions options = {}) {
    return std::make_unique<agent::ImagePuller>(
        store_, [this] { wakes_.fetch_add(1); }, clock_, options);
  }

  FakeImageStore store_;
  ManualClock clock_;
  std::atomic<int> wakes_{0};
};

TEST_F(ImagePullerTest, PresentImageIsNotPulled) {
  store_.add(kWeb);
  auto puller = makePuller();
  EXPECT_EQ(puller->request(kWeb).kind, Kind::Checking);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Present);
  EXPECT_EQ(store_.pullsOf(kWeb), 0U);
  EXPECT_GE(wakes_.load(), 1);
}

TEST_F(ImagePullerTest, RequestReturnsWithoutWaitingForThePull) {
  store_.holdPulls();
  auto puller = makePuller();
  EXPECT_EQ(puller->request(kWeb).kind, Kind::Checking);
  ASSERT_TRUE(store_.waitForHeldPulls(1, kPatience));
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Pulling);
  store_.releasePulls();
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Present);
  EXPECT_TRUE(store_.contains(kWeb));
}

TEST_F(ImagePullerTest, ConcurrentRequestsShareOnePull) {
  store_.holdPulls();
  auto puller = makePuller();
  puller->request(kWeb);
  ASSERT_TRUE(store_.waitForHeldPulls(1, kPatience));
  puller->request(kWeb);
  puller->request(kWeb);
  store_.releasePulls();
  ASSERT_TRUE(puller->waitIdle(kPatience));
  puller->request(kWeb);  // present now: nothing more
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(store_.pullsOf(kWeb), 1U);
}

TEST_F(ImagePullerTest, AtMostTwoPullsAtOnce) {
  store_.holdPulls();
  auto puller = makePuller();
  puller->request(kWeb);
  puller->request(kApi);
  puller->request(kDb);
  ASSERT_TRUE(store_.waitForHeldPulls(2, kPatience));
  EXPECT_FALSE(store_.waitForHeldPulls(3, milliseconds(200)));
  EXPECT_EQ(puller->state(kDb).kind, Kind::Pulling);  // queued
  EXPECT_EQ(puller->state(kDb).progress, agent::kWaitingForPulls);
  store_.releasePulls();
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(store_.maxConcurrentPulls(), 2U);
  for (const auto& reference : {kWeb, kApi, kDb}) {
    EXPECT_EQ(puller->state(reference).kind, Kind::Present) << reference;
  }
}

TEST_F(ImagePullerTest, FailureKeepsTheRegistrysWords) {
  store_.failPulls(kWeb, Error{ErrorKind::NotFound, "manifest unknown: manifest unknown"});
  auto puller = makePuller();
  puller->request(kWeb);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  auto state = puller->state(kWeb);
  EXPECT_EQ(state.kind, Kind::Failed);
  EXPECT_EQ(state.message, "manifest unknown: manifest unknown");
  EXPECT_EQ(state.failedAt, clock_.now());
}

TEST_F(ImagePullerTest, FailureIsHeldOffThenPulledAfresh) {
  store_.failPulls(kWeb, Error{ErrorKind::Unavailable, "connection refused"});
  auto puller = makePuller({.failureHoldOff = milliseconds(4000)});
  puller->request(kWeb);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  clock_.advance(milliseconds(3999));
  EXPECT_EQ(puller->request(kWeb).kind, Kind::Failed);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(store_.pullsOf(kWeb), 1U);

  store_.failPulls(kWeb, std::nullopt);  // the registry is back
  clock_.advance(milliseconds(1));
  EXPECT_EQ(puller->request(kWeb).kind, Kind::Checking);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(store_.pullsOf(kWeb), 2U);
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Present);
}

TEST_F(ImagePullerTest, StoreThatCannotSayStillPulls) {
  store_.failHas(Error{ErrorKind::Unavailable, "podman: connection refused"});
  auto puller = makePuller();
  puller->request(kWeb);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(store_.pullsOf(kWeb), 1U);
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Present);
}

TEST_F(ImagePullerTest, ProgressIsPublishedAtMostOncePerInterval) {
  store_.setProgress({"1 of 3 layers", "2 of 3 layers", "3 of 3 layers"});
  store_.holdPulls();
  auto puller = makePuller({.progressInterval = milliseconds(500)});
  puller->request(kWeb);
  ASSERT_TRUE(store_.waitForHeldPulls(1, kPatience));
  // The clock did not move: the first line is published with one wake, the other two
  // fall within the interval.
  EXPECT_EQ(puller->state(kWeb).progress, "1 of 3 layers");
  EXPECT_EQ(wakes_.load(), 1);
  store_.releasePulls();
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(wakes_.load(), 2);  // the end wakes at once
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Present);
  EXPECT_EQ(puller->state(kWeb).progress, "");
}

TEST_F(ImagePullerTest, ProgressMovesOnceTheIntervalPassed) {
  store_.setProgress({"1 of 2 layers"});
  store_.holdPulls();
  auto puller = makePuller({.progressInterval = milliseconds(500)});
  puller->request(kWeb);
  ASSERT_TRUE(store_.waitForHeldPulls(1, kPatience));
  store_.releasePulls();
  ASSERT_TRUE(puller->waitIdle(kPatience));
  store_.failPulls(kApi, Error{ErrorKind::NotFound, "not found"});
  store_.setProgress({"resolving", "1 of 1 layers"});
  store_.holdPulls();
  clock_.advance(milliseconds(500));
  puller->request(kApi);
  ASSERT_TRUE(store_.waitForHeldPulls(1, kPatience));
  EXPECT_EQ(puller->state(kApi).progress, "resolving");
  EXPECT_EQ(wakes_.load(), 3);
  store_.releasePulls();
  ASSERT_TRUE(puller->waitIdle(kPatience));
}

TEST_F(ImagePullerTest, LongRegistryMessageIsBounded) {
  store_.failPulls(kWeb, Error{ErrorKind::Unavailable, std::string(10000, 'x')});
  auto puller = makePuller();
  puller->request(kWeb);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_LT(puller->state(kWeb).message.size(), 600U);
}

TEST_F(ImagePullerTest, ForgetMakesTheNextRequestCheckAgain) {
  store_.add(kWeb);
  auto puller = makePuller();
  puller->request(kWeb);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  ASSERT_TRUE(store_.remove(kWeb, false));  // removed behind its back
  EXPECT_EQ(puller->request(kWeb).kind, Kind::Present);
  puller->forget(kWeb);
  EXPECT_EQ(puller->request(kWeb).kind, Kind::Checking);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  EXPECT_EQ(store_.pullsOf(kWeb), 1U);
  EXPECT_TRUE(store_.contains(kWeb));
}

TEST_F(ImagePullerTest, RetainKeepsFreshFailuresAndDropsTheRest) {
  store_.add(kApi);
  store_.failPulls(kWeb, Error{ErrorKind::NotFound, "not found"});
  auto puller = makePuller({.failureHoldOff = milliseconds(4000)});
  puller->request(kWeb);
  puller->request(kApi);
  ASSERT_TRUE(puller->waitIdle(kPatience));
  puller->retain({});
  EXPECT_EQ(puller->state(kApi).kind, Kind::Absent);
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Failed);
  clock_.advance(milliseconds(4000));
  puller->retain({});
  EXPECT_EQ(puller->state(kWeb).kind, Kind::Absent);
}

TEST_F(ImagePullerTest, StopAbandonsAPullInFlight) {
  store_.holdPulls();
  auto puller = makePuller();
  puller->request(kWeb);
  puller->request(kApi);
  puller->request(kDb);
  ASSERT_TRUE(store_.waitForHeldPulls(2, kPatience));
  std::thread stopper([&] { puller->stop(); });
  // Once stop() has begun, a request queues nothing and reads Absent.
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (puller->request("198.18.0.101:5000/probe:1").kind != Kind::Absent &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  store_.releasePulls();  // the store returns; the results are dropped
  stopper.join();
  int wakesAtStop = wakes_.load();
  EXPECT_EQ(store_.pullsOf(kDb), 0U);  // queued: never started
  EXPECT_EQ(puller->request(kDb).kind, Kind::Absent);
  EXPECT_EQ(wakes_.load(), wakesAtStop);
}

}  // namespace
}  // namespace overmesh::testing
