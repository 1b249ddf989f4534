// What `overmesh stack …` prints (cli/stack_output.h): Docker's deploy and rm lines, the
// `stack ls` table, which services belong to a stack, and the bounded stdin read.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/http_server.h"
#include "cli/cli_context.h"
#include "cli/stack_output.h"
#include "support/scratch.h"

namespace overmesh::cli {
namespace {

api::Service serviceNamed(const std::string& name, const std::string& stack) {
  api::Service service;
  service.id = "id-" + name;
  service.spec.name = name;
  if (!stack.empty()) {
    service.spec.labels[api::kStackNamespaceLabel] = stack;
  }
  return service;
}

TEST(StackCliTest, DeployLinesInDockersWordsAndOrder) {
  api::StackDeployReply reply;
  reply.networksCreated = {"web_default", "web_back"};
  reply.servicesCreated = {"web_web"};
  api::Service updated = serviceNamed("web_api", "web");
  updated.id = "5f1c2d3e4f5a6b7c8d9e0f1a2";
  reply.servicesUpdated = {updated};
  reply.servicesUnchanged = {"web_db"};
  reply.servicesRemoved = {"web_old"};
  reply.warnings = {"not a line of stdout"};
  EXPECT_EQ(stackDeployLines(reply),
            (std::vector<std::string>{"Creating network web_default", "Creating network web_back",
                                      "Creating service web_web",
                                      "Updating service web_api (id: 5f1c2d3e4f5a6b7c8d9e0f1a2)",
                                      "Service web_db is unchanged", "Removing service web_old"}));
}

TEST(StackCliTest, DeployOfNothingPrintsNothing) {
  EXPECT_TRUE(stackDeployLines(api::StackDeployReply{}).empty());
}

TEST(StackCliTest, RemoveLinesServicesThenNetworksAndFailuresApart) {
  api::StackRemoveReply reply;
  reply.servicesRemoved = {"web_api", "web_web"};
  reply.networksRemoved = {"web_default"};
  reply.errors = {"Failed to remove network web_back: network is in use by task x"};
  auto output = stackRemoveLines(reply);
  EXPECT_EQ(output.out,
            (std::vector<std::string>{"Removing service web_api", "Removing service web_web",
                                      "Removing network web_default"}));
  EXPECT_EQ(
      output.err,
      (std::vector<std::string>{"Failed to remove network web_back: network is in use by task x"}));
}

TEST(StackCliTest, StackTableOrderedByName) {
  std::ostringstream out;
  printStackTable(out, {{"web", 3, 1}, {"chaos", 12, 2}});
  EXPECT_EQ(out.str(),
            "NAME    SERVICES\n"
            "chaos   12\n"
            "web     3\n");
}

TEST(StackCliTest, EmptyStackTableHasItsHeader) {
  std::ostringstream out;
  printStackTable(out, {});
  EXPECT_EQ(out.str(), "NAME   SERVICES\n");
}

TEST(StackCliTest, ServicesOfAStackByLabelOrderedByName) {
  std::vector<api::Service> services = {
      serviceNamed("web_web", "web"), serviceNamed("web_api", "web"),
      serviceNamed("webby_web", "webby"), serviceNamed("web_manual", "")};
  auto found = servicesOfStack(services, "web");
  ASSERT_EQ(found.size(), 2U);
  EXPECT_EQ(found[0].spec.name, "web_api");
  EXPECT_EQ(found[1].spec.name, "web_web");
  EXPECT_TRUE(servicesOfStack(services, "nothing").empty());
}

TEST(StackCliTest, ReadsStdinUpToItsBound) {
  std::istringstream small("services:\n  web:\n    image: nginx\n");
  auto text = readBoundedStream(small, 1024, "standard input (-c -)");
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, "services:\n  web:\n    image: nginx\n");

  std::istringstream large(std::string(2000, 'x'));
  auto refused = readBoundedStream(large, 1024, "standard input (-c -)");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(refused.error().message,
            "standard input (-c -) holds more than 1024 bytes: a compose file is at most that "
            "large");
}

TEST(StackCliTest, EnvironmentFromEnvironEntries) {
  const char* entries[] = {"TAG=1.25", "EMPTY=", "WITH=equals=inside", "NOEQUALS", "=bad", nullptr};
  EXPECT_EQ(environmentFromEntries(entries),
            (compose::Environment{{"EMPTY", ""}, {"TAG", "1.25"}, {"WITH", "equals=inside"}}));
  EXPECT_TRUE(environmentFromEntries(nullptr).empty());
}

}  // namespace
}  // namespace overmesh::cli

// ---- the commands through CLI11 and the daemon client, against a fake daemon ----

namespace overmesh::cli {
namespace {

using overmesh::testing::must;
using ::testing::HasSubstr;

// `overmesh stack …` as a user types it: files in a scratch directory, a fake daemon on a
// unix socket that records what reaches it. No overmeshd, no root.
class StackCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api::StackDeployReply reply;
    reply.networksCreated = {"web_default"};
    reply.servicesCreated = {"web_web"};
    reply.warnings = {"image nginx:1.25 could not be pinned"};
    record("POST", "/v1/stacks/deploy", nlohmann::json(reply));
    record("GET", "/v1/services", nlohmann::json::array());
    record("GET", "/v1/tasks", nlohmann::json::array());
    must(server_.listenUnix(socketPath_, 0600));
  }

  void record(const std::string& method, const std::string& pattern, nlohmann::json reply) {
    server_.route(method, pattern, [this, reply](const api::HttpRequest& request) {
      std::lock_guard lock(mutex_);
      bodies_.push_back(nlohmann::json::parse(request.body, nullptr, false));
      return api::HttpResponse{200, reply.dump()};
    });
  }

  std::string writeFile(const std::string& name, const std::string& text) {
    std::filesystem::path path = dir_.path() / name;
    std::ofstream(path) << text;
    return path.string();
  }

  struct Outcome {
    Status status;
    std::string out;
    std::string err;
  };

  Outcome run(std::vector<std::string> args) {
    CLI::App app;
    app.require_subcommand(1);
    CliContext context;
    context.host = "unix://" + socketPath_;
    std::ostringstream out;
    std::ostringstream err;
    context.out = &out;
    context.err = &err;
    addStackCommands(app, context);
    args.insert(args.begin(), "overmesh");
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    app.parse(static_cast<int>(argv.size()), argv.data());
    Status status = context.action ? context.action()
                                   : Status(errorf(ErrorKind::InvalidArgument, "no command ran"));
    return {status, out.str(), err.str()};
  }

  // The last body posted to the daemon, as a deploy request.
  api::StackDeployRequest lastDeploy() {
    std::lock_guard lock(mutex_);
    if (bodies_.empty() || bodies_.back().is_discarded()) {
      ADD_FAILURE() << "no deploy reached the daemon";
      return {};
    }
    return bodies_.back().get<api::StackDeployRequest>();
  }

  overmesh::testing::ScratchDir dir_;
  std::string socketPath_ = (dir_.path() / "d.sock").string();
  std::mutex mutex_;
  std::vector<nlohmann::json> bodies_;  // guarded by mutex_
  // Declared last: stops (joining its threads) before what its handlers use goes.
  api::HttpServer server_;
};

constexpr const char* kWebFile = "services:\n  web:\n    image: nginx:1.25\n";

TEST_F(StackCommandTest, DeployPrintsDockersLinesAndSendsWhereEachServiceWasDeclared) {
  std::string file = writeFile("web.yml", kWebFile);
  auto outcome = run({"stack", "deploy", "-c", file, "web"});
  ASSERT_TRUE(outcome.status.has_value()) << outcome.status.error().message;
  EXPECT_EQ(outcome.out, "Creating network web_default\nCreating service web_web\n");
  EXPECT_EQ(outcome.err, "image nginx:1.25 could not be pinned\n");
  api::StackDeployRequest request = lastDeploy();
  // Service::mark is where the loader puts the service (its mapping, line 3 here).
  EXPECT_EQ(request.serviceSources.at("web_web"), file + ":3: services.web");
}

TEST_F(StackCommandTest, QuietDeployPrintsOnlyWarnings) {
  std::string file = writeFile("web.yml", kWebFile);
  for (const std::string flag : {"-q", "--quiet"}) {
    auto outcome = run({"stack", "deploy", flag, "-c", file, "web"});
    ASSERT_TRUE(outcome.status.has_value()) << outcome.status.error().message;
    EXPECT_EQ(outcome.out, "") << flag;
    EXPECT_EQ(outcome.err, "image nginx:1.25 could not be pinned\n") << flag;
  }
}

TEST_F(StackCommandTest, AcceptsDockersDeployFlagsWithRegistryAuthWarning) {
  std::string file = writeFile("web.yml", kWebFile);
  auto outcome =
      run({"stack", "deploy", "--with-registry-auth", "-d", "--detach=false", "-c", file, "web"});
  ASSERT_TRUE(outcome.status.has_value()) << outcome.status.error().message;
  EXPECT_THAT(outcome.err, HasSubstr(std::string(kWithRegistryAuthWarning) + "\n"));
  EXPECT_EQ(std::string(kWithRegistryAuthWarning),
            "--with-registry-auth: registry credentials are not supported yet; nodes pull "
            "anonymously");
  EXPECT_EQ(outcome.out, "Creating network web_default\nCreating service web_web\n");
  auto quietAuth = run({"stack", "deploy", "-c", file, "web"});
  EXPECT_THAT(quietAuth.err, ::testing::Not(HasSubstr("--with-registry-auth")));
}

TEST_F(StackCommandTest, CommaSeparatedComposeFilesAreMergedInOrder) {
  std::string base = writeFile("base.yml", kWebFile);
  std::string over = writeFile("over.yml", "services:\n  web:\n    image: nginx:1.27\n");
  auto outcome = run({"stack", "deploy", "-c", base + "," + over, "web"});
  ASSERT_TRUE(outcome.status.has_value()) << outcome.status.error().message;
  api::StackDeployRequest request = lastDeploy();
  ASSERT_EQ(request.services.size(), 1u);
  EXPECT_EQ(request.services[0].container.image, "nginx:1.27");

  auto config = run({"stack", "config", "-c", over + "," + base});
  ASSERT_TRUE(config.status.has_value()) << config.status.error().message;
  EXPECT_THAT(config.out, HasSubstr("nginx:1.25"));
  EXPECT_THAT(config.out, ::testing::Not(HasSubstr("nginx:1.27")));
}

TEST_F(StackCommandTest, ATildeBindSourceUsesHome) {
  std::string file = writeFile(
      "web.yml", "services:\n  web:\n    image: nginx:1.25\n    volumes:\n      - ~/site:/site\n");
  const char* saved = std::getenv("HOME");
  std::string savedHome = saved == nullptr ? "" : saved;
  ::setenv("HOME", "/home/ada", 1);
  auto outcome = run({"stack", "deploy", "-c", file, "web"});
  ::unsetenv("HOME");
  auto refused = run({"stack", "deploy", "-c", file, "web"});
  if (saved != nullptr) {
    ::setenv("HOME", savedHome.c_str(), 1);
  }
  ASSERT_TRUE(outcome.status.has_value()) << outcome.status.error().message;
  EXPECT_EQ(lastDeploy().services.at(0).container.mounts.at(0).source, "/home/ada/site");
  ASSERT_FALSE(refused.status.has_value());
  EXPECT_THAT(refused.status.error().message, HasSubstr("$HOME is not set"));
}

TEST_F(StackCommandTest, PsOfAStackWithNothingFails) {
  auto outcome = run({"stack", "ps", "web"});
  ASSERT_FALSE(outcome.status.has_value());
  EXPECT_EQ(outcome.status.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(outcome.status.error().message, "nothing found in stack: web");
  // `stack services` only reports it, as Docker does.
  auto services = run({"stack", "services", "web"});
  EXPECT_TRUE(services.status.has_value());
  EXPECT_EQ(services.err, "Nothing found in stack: web\n");
}

// Deploy resolves every image and rm waits for tasks to drain on the manager: both wait
// longer than an ordinary request.
TEST(StackCliTest, DeployAndRemoveWaitLongerThanOrdinaryRequests) {
  EXPECT_EQ(kStackRequestTimeout, std::chrono::seconds(180));
  EXPECT_GT(kStackRequestTimeout, kDefaultRequestTimeout);
}

}  // namespace
}  // namespace overmesh::cli
