// The read-change-write loop of `service update` and `service scale`, against a stand-in
// for the daemon that keeps a service and checks the update index as the manager does.

#include "cli/service_update.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "support/service_fixtures.h"

namespace overmesh::cli {
namespace {

using ::testing::HasSubstr;

// The daemon's side: one service, the manager's Conflict rule, and a hook that runs
// before each answer so a test can slip another client's update in between.
struct FakeServiceDaemon {
  api::Service stored = testing::replicatedService("web", 3);
  std::vector<api::ServiceUpdateRequest> received;
  std::function<void()> beforeAnswer;

  Result<api::Service> read() { return stored; }

  Status apply(const api::ServiceUpdateRequest& request) {
    if (request.updateIndex != stored.updateIndex) {
      return errorf(ErrorKind::Conflict,
                    "service update: service web was changed by someone "
                    "else; read it again and retry");
    }
    stored.spec = request.spec;
    ++stored.updateIndex;
    return {};
  }

  Status send(const api::Service& readAt, const api::ServiceUpdateRequest& request) {
    EXPECT_EQ(readAt.id, stored.id);
    received.push_back(request);
    if (beforeAnswer) {
      beforeAnswer();
    }
    return apply(request);
  }
};

Result<api::Service> runUpdate(FakeServiceDaemon& daemon,
                               const std::function<void(api::ServiceSpec&)>& flags,
                               int maxAttempts = 5) {
  return updateWithRetry(
      "web", false, maxAttempts, [&] { return daemon.read(); },
      [&](const api::Service& service) -> Result<api::ServiceSpec> {
        api::ServiceSpec spec = service.spec;
        flags(spec);
        return spec;
      },
      [&](const api::Service& readAt, const api::ServiceUpdateRequest& request) {
        return daemon.send(readAt, request);
      });
}

TEST(ServiceUpdateRetryTest, SendsTheUpdateIndexTheServiceWasReadAt) {
  FakeServiceDaemon daemon;
  daemon.stored.updateIndex = 7;
  daemon.stored.version = 2;
  auto readAt = runUpdate(daemon, [](api::ServiceSpec& spec) { spec.replicas = 6; });
  ASSERT_TRUE(readAt) << readAt.error().message;
  EXPECT_EQ(readAt->updateIndex, 7);
  ASSERT_EQ(daemon.received.size(), 1u);
  EXPECT_EQ(daemon.received[0].updateIndex, 7) << "the index, not the version (2)";
  EXPECT_EQ(daemon.stored.spec.replicas, 6);
}

// `scale web=6` lands while `update --update-parallelism 2` is in flight: the update gets
// Conflict, re-reads, and re-applies its flag on top of the scale; neither is lost.
TEST(ServiceUpdateRetryTest, AConcurrentScaleIsKeptByReReadingAndReApplyingTheFlags) {
  FakeServiceDaemon daemon;
  bool scaled = false;
  daemon.beforeAnswer = [&] {
    if (!scaled) {
      scaled = true;
      api::ServiceSpec spec = daemon.stored.spec;
      spec.replicas = 6;
      ASSERT_TRUE(daemon.apply({spec, daemon.stored.updateIndex, false}));
    }
  };
  auto readAt =
      runUpdate(daemon, [](api::ServiceSpec& spec) { spec.updateConfig.parallelism = 2; });
  ASSERT_TRUE(readAt) << readAt.error().message;
  ASSERT_EQ(daemon.received.size(), 2u);
  EXPECT_EQ(daemon.received[0].updateIndex, 1);
  EXPECT_EQ(daemon.received[1].updateIndex, 2);
  EXPECT_EQ(daemon.received[1].spec.replicas, 6) << "re-read after the conflict";
  EXPECT_EQ(daemon.stored.spec.replicas, 6);
  EXPECT_EQ(daemon.stored.spec.updateConfig.parallelism, 2);
  EXPECT_EQ(daemon.stored.updateIndex, 3);
}

TEST(ServiceUpdateRetryTest, GivesUpAfterTheAttemptsNamingTheService) {
  FakeServiceDaemon daemon;
  daemon.beforeAnswer = [&] { ++daemon.stored.updateIndex; };  // always changed meanwhile
  auto readAt = runUpdate(
      daemon, [](api::ServiceSpec& spec) { spec.replicas = 2; }, 3);
  ASSERT_FALSE(readAt);
  EXPECT_EQ(readAt.error().kind, ErrorKind::Conflict);
  EXPECT_THAT(readAt.error().message,
              HasSubstr("service web kept changing during 3 attempts to update it"));
  EXPECT_EQ(daemon.received.size(), 3u);
  EXPECT_EQ(daemon.stored.spec.replicas, 3);
}

TEST(ServiceUpdateRetryTest, OtherErrorsEndTheLoopAtOnce) {
  FakeServiceDaemon daemon;
  int sends = 0;
  auto readAt = updateWithRetry(
      "web", false, 5, [&] { return daemon.read(); },
      [](const api::Service& service) -> Result<api::ServiceSpec> { return service.spec; },
      [&](const api::Service&, const api::ServiceUpdateRequest&) -> Status {
        ++sends;
        return errorf(ErrorKind::InvalidArgument, "service update: --mode differs");
      });
  ASSERT_FALSE(readAt);
  EXPECT_EQ(readAt.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(sends, 1);

  auto badFlags = updateWithRetry(
      "web", false, 5, [&] { return daemon.read(); },
      [](const api::Service&) -> Result<api::ServiceSpec> {
        return errorf(ErrorKind::InvalidArgument, "--replicas: not a number");
      },
      [&](const api::Service&, const api::ServiceUpdateRequest&) -> Status {
        ++sends;
        return {};
      });
  ASSERT_FALSE(badFlags);
  EXPECT_EQ(badFlags.error().message, "--replicas: not a number");
  EXPECT_EQ(sends, 1) << "nothing sent for bad flags";
}

}  // namespace
}  // namespace overmesh::cli
