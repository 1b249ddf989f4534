// Services through real daemons: a 3-host lab (h1 the manager), the service API called
// on each host's local socket (writes on the manager's, which a worker refuses; a worker
// answers reads from its cache), tasks placed by the manager's orchestration loop and
// started by the agents. The CLI for services is tested on its own; this drives the REST API
// directly.
//
// Run:  ctest --test-dir BUILD -R ServiceLabTest   (as root)

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "api/http_client.h"
#include "support/lab_session.h"
#include "support/process.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;

constexpr auto kSettle = seconds(20);  // generous: the machine is shared

class ServiceLabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    ASSERT_TRUE(lab_.up(3)) << lab_.error();
    auto status =
        nlohmann::json::parse(lab_.lab({"status", "--format", "json"}).out, nullptr, false);
    ASSERT_TRUE(status.is_object()) << "lab status is not JSON";
    for (const auto& host : status["hosts"]) {
      sockets_.push_back(host.value("socket", ""));
    }
    ASSERT_EQ(sockets_.size(), 3u);
    auto created =
        lab_.cli(1, {"network", "create", "-d", "overlay", "--subnet", "10.0.30.0/24", "front"});
    ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  }

  void TearDown() override {
    if (HasFailure()) {
      std::cerr << lab_.logs();
    }
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
  };

  // METHOD PATH with BODY on host `host`'s local API.
  Reply call(int host, const std::string& method, const std::string& path,
             const std::string& body = "") {
    auto client = api::HttpClient::create("unix://" + sockets_.at(host - 1));
    if (!client) {
      return {0, client.error().message};
    }
    auto response = (*client)->request(method, path, body, seconds(30), {});
    if (!response) {
      return {0, response.error().message};
    }
    return {response->status, nlohmann::json::parse(response->body, nullptr, false)};
  }

  // The tasks of service `name` that should run, as host 1 lists them.
  std::vector<nlohmann::json> desiredRunning(const std::string& name) {
    std::vector<nlohmann::json> found;
    auto tasks = call(1, "GET", "/v1/tasks");
    if (!tasks.body.is_array()) {
      return found;
    }
    for (const auto& task : tasks.body) {
      if (task.value("serviceName", "") == name && task.value("desiredState", "") == "running") {
        found.push_back(task);
      }
    }
    return found;
  }

  LabSession lab_{"svc"};
  std::vector<std::string> sockets_;
};

TEST_F(ServiceLabTest, AServiceCreatedOnTheManagerRunsItsReplicasAcrossTheHosts) {
  nlohmann::json spec = {{"name", "web"},
                         {"replicas", 3},
                         {"command", {"sleep", "3600"}},
                         {"networks", {{{"target", "front"}, {"aliases", {"www"}}}}}};
  // A worker refuses the write with Docker's words (412, FailedPrecondition).
  auto onWorker = call(2, "POST", "/v1/services", spec.dump());
  EXPECT_EQ(onWorker.status, 412) << onWorker.body.dump();
  EXPECT_NE(onWorker.body.dump().find(
                "this node is not a swarm manager; run the command on a manager node"),
            std::string::npos)
      << onWorker.body.dump();
  EXPECT_EQ(call(1, "GET", "/v1/services/web").status, 404) << "the refused write changed nothing";

  auto created = call(1, "POST", "/v1/services", spec.dump());
  ASSERT_EQ(created.status, 201) << created.body.dump();
  std::string vip = created.body["vips"][0].value("address", "");
  EXPECT_EQ(vip, "10.0.30.2/24");

  ASSERT_TRUE(eventually(
      [&] {
        auto tasks = desiredRunning("web");
        return tasks.size() == 3 && std::all_of(tasks.begin(), tasks.end(), [](const auto& t) {
                 return t.value("state", "") == "running";
               });
      },
      kSettle))
      << call(1, "GET", "/v1/tasks").body.dump();
  std::set<std::string> nodes;
  std::set<std::string> addresses;
  for (const auto& task : desiredRunning("web")) {
    nodes.insert(task.value("nodeId", ""));
    addresses.insert(task["attachments"][0].value("address", ""));
  }
  EXPECT_EQ(nodes.size(), 3u) << "spread over the three hosts";
  EXPECT_EQ(addresses.size(), 3u);
  EXPECT_FALSE(addresses.contains(vip));

  // A worker answers reads from its cache.
  EXPECT_TRUE(
      eventually([&] { return call(3, "GET", "/v1/services/web").status == 200; }, kSettle));
  auto detail = call(3, "GET", "/v1/networks/front");
  ASSERT_EQ(detail.status, 200) << detail.body.dump();
  EXPECT_EQ(detail.body["services"][0].value("vip", ""), vip);

  auto refused = call(1, "DELETE", "/v1/networks/front");
  EXPECT_EQ(refused.status / 100, 4) << refused.body.dump();
  EXPECT_NE(refused.body.dump().find("in use by service(s) web"), std::string::npos)
      << refused.body.dump();

  auto labelled =
      call(1, "POST", "/v1/nodes/" + lab_.name() + "-h2/update", R"({"labelAdd":{"zone":"a"}})");
  ASSERT_EQ(labelled.status, 200) << labelled.body.dump();
  EXPECT_EQ(labelled.body["labels"].value("zone", ""), "a");

  nlohmann::json update = {{"spec", created.body["spec"]},
                           {"updateIndex", created.body["updateIndex"]}};
  update["spec"]["replicas"] = 1;
  auto scaled = call(1, "POST", "/v1/services/web/update", update.dump());
  ASSERT_EQ(scaled.status, 200) << scaled.body.dump();
  EXPECT_TRUE(eventually([&] { return desiredRunning("web").size() == 1; }, kSettle));

  auto removed = call(1, "DELETE", "/v1/services/web");
  ASSERT_EQ(removed.status, 200) << removed.body.dump();
  EXPECT_TRUE(eventually([&] { return desiredRunning("web").empty(); }, kSettle));
  EXPECT_EQ(call(1, "GET", "/v1/services/web").status, 404);
}

}  // namespace
}  // namespace overmesh::testing
