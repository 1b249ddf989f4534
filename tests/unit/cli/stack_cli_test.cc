// What `overmesh stack …` prints (cli/stack_output.h): Docker's deploy and rm lines, the
// `stack ls` table, which services belong to a stack, and the bounded stdin read.

#include <gtest/gtest.h>

#include <sstream>

#include "cli/stack_output.h"

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
