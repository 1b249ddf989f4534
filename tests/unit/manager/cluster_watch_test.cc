// The cluster API's watch route (GET kWatchPath?from=&waitMs=) through the watch hub, as the
// TLS listener hands requests over (support/manager_cluster.h): who may call it, its
// arguments, and a parked long-poll answered when the store moves.

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "api/cluster_protocol.h"
#include "support/manager_cluster.h"

namespace overmesh::manager {
namespace {

using ClusterWatchTest = overmesh::testing::ManagerClusterTest;

api::HttpRequest watchRequest(std::optional<api::PeerIdentity> identity, std::string from,
                              std::string waitMs) {
  api::HttpRequest request;
  request.method = "GET";
  request.path = api::kWatchPath;
  request.query = {{"from", std::move(from)}, {"waitMs", std::move(waitMs)}};
  request.peer = "198.18.0.9";
  request.identity = std::move(identity);
  return request;
}

TEST_F(ClusterWatchTest, RefusesACallerWithoutAMemberCertificate) {
  auto request = watchRequest(std::nullopt, "1", "0");
  EXPECT_EQ(server_.dispatch(request).status, 401);
}

TEST_F(ClusterWatchTest, RefusesAnArgumentThatIsNotARevision) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  auto request = watchRequest(node->identity, "abc", "0");
  auto response = server_.dispatch(request);
  EXPECT_EQ(response.status, 400);
  EXPECT_NE(response.body.find("query argument from="), std::string::npos) << response.body;
  EXPECT_NE(response.body.find("abc"), std::string::npos) << response.body;
}

TEST_F(ClusterWatchTest, AParkedWatchIsAnsweredWhenAVisibleKeyChanges) {
  auto node = joinWorker("worker-1");
  ASSERT_TRUE(node) << node.error().message;
  auto from = *store_->currentRevision() + 1;
  auto answer = std::async(std::launch::async, [&] {
    auto request = watchRequest(node->identity, std::to_string(from), "10000");
    return server_.dispatch(request);
  });
  EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  auto written = store_->put(state::keys::network("probe"), "{}");
  ASSERT_TRUE(written);
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto response = answer.get();
  ASSERT_EQ(response.status, 200) << response.body;
  auto json = nlohmann::json::parse(response.body);
  ASSERT_EQ(json.at("events").size(), 1u);
  EXPECT_EQ(json.at("events")[0].at("kv").at("key"), state::keys::network("probe"));
  EXPECT_EQ(json.at("nextRevision"), *written + 1);
}

}  // namespace
}  // namespace overmesh::manager
