// The routing-mesh and container flags as a user types them, through CLI11 and the daemon client,
// against a fake daemon on a unix socket in a scratch directory: what reaches the daemon and what
// is printed. No overmeshd, no root.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "api/service_types.h"
#include "cli/cli_context.h"
#include "support/scratch.h"
#include "support/service_fixtures.h"

namespace overmesh::cli {
namespace {

using overmesh::testing::must;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct SeenRequest {
  std::string method;
  std::string path;
  nlohmann::json body;
};

api::PortConfig mesh(std::int64_t published, std::int64_t target, std::string protocol = "tcp",
                     std::string mode = "ingress") {
  return api::PortConfig{std::move(protocol), target, published, std::move(mode)};
}

class PublishCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = overmesh::testing::replicatedService("web", 2);
    service_.updateIndex = 7;
    service_.spec.ports = {mesh(8080, 80), mesh(0, 90)};
    service_.ports = {mesh(8080, 80), mesh(30000, 90)};

    answer("POST", "/v1/swarm/init", {{"id", "cluster1"}});
    answer("POST", "/v1/networks", {{"id", "netid1"}});
    answer("POST", "/v1/services", nlohmann::json(service_));
    answer("GET", "/v1/services", nlohmann::json::array({nlohmann::json(service_)}));
    answer("GET", "/v1/services/{ref}", nlohmann::json(service_));
    answer("POST", "/v1/services/{ref}/update", nlohmann::json(service_));
    answer("GET", "/v1/tasks", nlohmann::json::array());
    answer("POST", "/v1/tasks", {{"id", "taskid1"}, {"state", "preparing"}});
    // The node pulled, then failed: what `run` without -d waits for and reports.
    answer("GET", "/v1/tasks/{ref}",
           {{"id", "taskid1"},
            {"name", "web"},
            {"nodeName", "h1"},
            {"state", "failed"},
            {"message", "pull access denied for web"}});
    api::Node node;
    node.id = "nodeid1";
    node.hostname = "h1";
    node.address = "198.18.0.1";
    node.ingressAddress = "10.255.0.3/16";
    answer("GET", "/v1/nodes/{ref}", nlohmann::json(node));
    api::Network ingress;
    ingress.id = "ingressnetworkid";
    ingress.name = "ingress";
    ingress.subnet = "10.255.0.0/16";
    ingress.ingress = true;
    answer("GET", "/v1/networks", nlohmann::json::array({nlohmann::json(ingress)}));
    must(server_.listenUnix(socketPath_, 0600));
  }

  // Records every request to `method pattern` and answers `reply`.
  void answer(const std::string& method, const std::string& pattern, nlohmann::json reply) {
    server_.route(method, pattern, [this, reply](const api::HttpRequest& request) {
      std::lock_guard lock(mutex_);
      seen_.push_back({request.method, request.path,
                       request.body.empty() ? nlohmann::json()
                                            : nlohmann::json::parse(request.body, nullptr, false)});
      return api::HttpResponse{200, reply.dump()};
    });
  }

  // Runs `overmesh ARGS…`: what the command printed, or its error.
  Result<std::string> run(std::vector<std::string> args) {
    CLI::App app;
    app.require_subcommand(1);
    CliContext context;
    context.host = "unix://" + socketPath_;
    std::ostringstream out;
    context.out = &out;
    addSwarmCommands(app, context);
    addNetworkCommands(app, context);
    addServiceCommands(app, context);
    addNodeCommands(app, context);
    addTaskCommands(app, context);
    args.insert(args.begin(), "overmesh");
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    app.parse(static_cast<int>(argv.size()), argv.data());
    if (!context.action) {
      return errorf(ErrorKind::InvalidArgument, "no command ran");
    }
    if (auto status = context.action(); !status) {
      return std::unexpected(status.error());
    }
    return out.str();
  }

  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  SeenRequest lastPost() {
    auto requests = seen();
    for (auto request = requests.rbegin(); request != requests.rend(); ++request) {
      if (request->method == "POST") {
        return *request;
      }
    }
    ADD_FAILURE() << "no POST reached the daemon";
    return {};
  }

  overmesh::testing::ScratchDir dir_;
  std::string socketPath_ = (dir_.path() / "d.sock").string();
  api::Service service_;
  std::mutex mutex_;
  std::vector<SeenRequest> seen_;  // guarded by mutex_
  // Declared last: stops (joining its threads) before what its handlers use goes.
  api::HttpServer server_;
};

TEST_F(PublishCliTest, SwarmInitSendsTheIngressSubnet) {
  must(run(
      {"swarm", "init", "--advertise-addr", "198.18.0.1", "--ingress-subnet", "10.255.0.0/16"}));

  EXPECT_EQ(lastPost().path, "/v1/swarm/init");
  EXPECT_EQ(lastPost().body.value("ingressSubnet", ""), "10.255.0.0/16");
}

TEST_F(PublishCliTest, SwarmInitWithoutTheFlagLeavesTheSubnetToTheManager) {
  must(run({"swarm", "init"}));

  EXPECT_FALSE(lastPost().body.contains("ingressSubnet"));
}

TEST_F(PublishCliTest, NetworkCreateIngressSendsTheFlag) {
  auto printed =
      must(run({"network", "create", "--ingress", "--subnet", "10.255.0.0/16", "ingress"}));

  EXPECT_EQ(printed, "netid1\n");
  EXPECT_EQ(lastPost().path, "/v1/networks");
  EXPECT_EQ(lastPost().body.value("ingress", false), true);
  EXPECT_EQ(lastPost().body.value("name", ""), "ingress");
}

TEST_F(PublishCliTest, NetworkCreateIsNotIngressByDefault) {
  must(run({"network", "create", "front"}));

  EXPECT_EQ(lastPost().body.value("ingress", true), false);
}

TEST_F(PublishCliTest, ServiceCreateSendsEveryPublishedPort) {
  must(run({"service", "create", "--name", "web", "-d", "-p", "8080:80", "--publish",
            "published=5353,target=53,protocol=udp,mode=host", "-p", "81", "--", "httpd", "-f"}));

  auto spec = lastPost().body.get<api::ServiceSpec>();
  EXPECT_THAT(spec.ports, ElementsAre(mesh(8080, 80), mesh(5353, 53, "udp", "host"), mesh(0, 81)));
  EXPECT_THAT(spec.command, ElementsAre("httpd", "-f"));
}

TEST_F(PublishCliTest, ABadPublishIsRefusedBeforeAnythingIsSent) {
  auto created = run({"service", "create", "--name", "web", "-p", "8080:http", "--", "httpd"});

  ASSERT_FALSE(created.has_value());
  EXPECT_THAT(created.error().message,
              HasSubstr("--publish \"8080:http\" is not valid: target port \"http\" is not a "
                        "number from 1 to 65535"));
  EXPECT_THAT(seen(), IsEmpty());
}

TEST_F(PublishCliTest, ServiceUpdateEditsThePortsOfTheSpecItReadAndNamesTheIndex) {
  must(run({"service", "update", "-d", "--publish-rm", "90", "--publish-add", "8080:81",
            "--publish-add", "9090:90/udp", "web"}));

  SeenRequest update = lastPost();
  EXPECT_EQ(update.path, "/v1/services/" + service_.id + "/update");
  auto request = update.body.get<api::ServiceUpdateRequest>();
  EXPECT_EQ(request.updateIndex, 7);
  EXPECT_THAT(request.spec.ports, ElementsAre(mesh(8080, 81), mesh(9090, 90, "udp")));
}

TEST_F(PublishCliTest, RemovingAPortTheServiceDoesNotPublishSendsNoUpdate) {
  auto updated = run({"service", "update", "-d", "--publish-rm", "8090", "web"});

  ASSERT_FALSE(updated.has_value());
  EXPECT_THAT(updated.error().message,
              HasSubstr("service web publishes no port with target 8090/tcp in ingress mode"));
  for (const auto& request : seen()) {
    EXPECT_NE(request.method, "POST") << request.path;
  }
}

TEST_F(PublishCliTest, ServiceListShowsThePortsColumn) {
  auto printed = must(run({"service", "ls"}));

  std::istringstream lines(printed);
  std::string header;
  std::string row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_THAT(header, HasSubstr("PORTS"));
  EXPECT_THAT(row, HasSubstr("*:8080->80/tcp, *:30000->90/tcp"));
}

TEST_F(PublishCliTest, NodeInspectShowsTheIngressAddress) {
  auto printed = must(run({"node", "inspect", "h1"}));

  auto nodes = nlohmann::json::parse(printed);
  ASSERT_EQ(nodes.size(), 1U);
  EXPECT_EQ(nodes[0].value("ingressAddress", ""), "10.255.0.3/16");
}

TEST_F(PublishCliTest, NetworkListFlagsTheIngressNetwork) {
  auto printed = must(run({"network", "ls"}));

  EXPECT_THAT(printed, HasSubstr("ingress"));
  std::istringstream lines(printed);
  std::string header;
  std::string row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_THAT(row, ::testing::EndsWith("ingress"));
}

}  // namespace
}  // namespace overmesh::cli

namespace overmesh::cli {
namespace {

TEST_F(PublishCliTest, ServiceCreateSendsTheContainerFlagsAndNeedsNoCommandWithAnImage) {
  must(run({"service",
            "create",
            "--name",
            "web",
            "-d",
            "--image",
            "nginx:1.25",
            "--entrypoint",
            "/bin/sh -c 'exec nginx'",
            "-w",
            "/srv",
            "-u",
            "101:101",
            "--mount",
            "type=volume,source=cache,target=/cache",
            "--mount",
            "type=bind,src=/etc/ssl,dst=/ssl,ro",
            "--read-only",
            "--init",
            "--stop-signal",
            "QUIT"}));

  auto spec = lastPost().body.get<api::ServiceSpec>();
  EXPECT_EQ(spec.container.image, "nginx:1.25");
  EXPECT_THAT(spec.container.entrypoint, ElementsAre("/bin/sh", "-c", "exec nginx"));
  EXPECT_EQ(spec.container.workdir, "/srv");
  EXPECT_EQ(spec.container.user, "101:101");
  EXPECT_THAT(spec.container.mounts, ElementsAre(api::Mount{"volume", "cache", "/cache", false},
                                                 api::Mount{"bind", "/etc/ssl", "/ssl", true}));
  EXPECT_TRUE(spec.container.readOnly);
  EXPECT_TRUE(spec.container.init);
  EXPECT_EQ(spec.container.stopSignal, "QUIT");
  EXPECT_THAT(spec.command, IsEmpty());
}

TEST_F(PublishCliTest, ServiceCreateWithNeitherImageNorCommandSendsNothing) {
  auto created = run({"service", "create", "--name", "web", "-d"});

  ASSERT_FALSE(created.has_value());
  EXPECT_THAT(created.error().message, HasSubstr("give --image IMAGE, or a command after --"));
  EXPECT_THAT(seen(), IsEmpty());
}

TEST_F(PublishCliTest, ServiceUpdateChangesTheImageAndMounts) {
  must(run({"service", "update", "-d", "--image", "nginx:1.26", "--mount-add", "target=/data",
            "--read-only=true", "--init=false", "--entrypoint", "", "web"}));

  auto request = lastPost().body.get<api::ServiceUpdateRequest>();
  EXPECT_EQ(request.spec.container.image, "nginx:1.26");
  EXPECT_THAT(request.spec.container.mounts, ElementsAre(api::Mount{"volume", "", "/data", false}));
  EXPECT_TRUE(request.spec.container.readOnly);
  EXPECT_FALSE(request.spec.container.init);
  EXPECT_THAT(request.spec.container.entrypoint, IsEmpty());
}

TEST_F(PublishCliTest, RunSendsEnvAndContainerAndTheCommandAsArguments) {
  auto printed = must(
      run({"run", "--network", "front", "-d", "--image", "busybox", "-e", "A=1", "--env", "B=2",
           "--entrypoint", "/bin/sh", "--stop-grace-period", "1m30s", "--", "-c", "sleep 60"}));

  EXPECT_EQ(printed, "taskid1\n");
  auto body = lastPost().body;
  EXPECT_EQ(lastPost().path, "/v1/tasks");
  EXPECT_THAT(body["env"].get<std::vector<std::string>>(), ElementsAre("A=1", "B=2"));
  auto container = body["container"].get<api::ContainerSpec>();
  EXPECT_EQ(container.image, "busybox");
  EXPECT_THAT(container.entrypoint, ElementsAre("/bin/sh"));
  EXPECT_THAT(body["command"].get<std::vector<std::string>>(), ElementsAre("-c", "sleep 60"));
  EXPECT_EQ(body["stopGracePeriodMs"], 90'000);
}

TEST_F(PublishCliTest, RunWaitsPastPreparingAndReportsAPullFailure) {
  auto ran = run({"run", "--network", "front", "--image", "web"});

  ASSERT_FALSE(ran.has_value());
  EXPECT_EQ(ran.error().kind, ErrorKind::FailedPrecondition);
  EXPECT_THAT(ran.error().message,
              HasSubstr("task web failed to start on h1: pull access denied for web"));
}

TEST_F(PublishCliTest, RunRefusesContainerFlagsWithoutAnImageBeforeSending) {
  auto ran = run({"run", "--network", "front", "-d", "--read-only", "--", "sleep", "60"});

  ASSERT_FALSE(ran.has_value());
  EXPECT_THAT(ran.error().message, HasSubstr("--read-only needs --image"));
  auto none = run({"run", "--network", "front", "-d"});
  ASSERT_FALSE(none.has_value());
  EXPECT_THAT(none.error().message, HasSubstr("give --image IMAGE, or a command after --"));
  EXPECT_THAT(seen(), IsEmpty());
}

}  // namespace
}  // namespace overmesh::cli
