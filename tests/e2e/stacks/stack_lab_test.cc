// Stacks (issue 11) deployed for real, as an operator types them: compose files under
// tests/fixtures/compose/e2e/ go through `overmesh stack deploy` in a lab, and every network
// rule is proved by traffic, both ways: a stack without networks gets <stack>_default, its
// services find each other by key (alias) and by <stack>_<key>, and another stack neither
// resolves nor reaches them; declared networks are named the Docker way; the seed's fix (an
// external chaos_net, legacy and current forms) joins two stacks across hosts; Docker's
// traps are refused with the way out and leave nothing behind; a redeploy touches only what
// changed; `stack rm` spares external networks and other stacks.
//
// Process tasks (a `command:` and no image) where speed matters; the seed's story runs the
// lab registry's test image, as users deploy it.
//
// Run one:  ctest --test-dir BUILD -R StackNetworksTest.DefaultNetwork   (as root)

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "compose/value.h"
#include "support/image_lab.h"
#include "support/lab_session.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr auto kConverge = seconds(40);
constexpr auto kPull = seconds(120);  // image tasks: a pull, maybe retried once

std::string fixture(const std::string& name) {
  return std::string(OVERMESH_SOURCE_DIR) + "/tests/fixtures/compose/e2e/" + name;
}

std::string withoutPrefix(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

std::string firstLine(const std::string& text) {
  auto lines = nonEmptyLines(text);
  return lines.empty() ? "" : lines.front();
}

// Names of the objects a `--format json` list holds (services keep it under spec).
std::set<std::string> namesIn(const nlohmann::json& list) {
  std::set<std::string> out;
  if (!list.is_array()) {
    return out;
  }
  for (const auto& item : list) {
    if (item.contains("spec")) {
      out.insert(item["spec"].value("name", ""));
    } else {
      out.insert(item.value("name", ""));
    }
  }
  return out;
}

// The index of the first line equal to `line` in `lines`, or -1.
int lineIndex(const std::vector<std::string>& lines, const std::string& line) {
  auto at = std::find(lines.begin(), lines.end(), line);
  return at == lines.end() ? -1 : static_cast<int>(at - lines.begin());
}

class StackLab : public ::testing::Test {
 protected:
  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    registry_.reset();
    lab_.reset();
  }

  // A lab of `hosts` hosts (and `clients` clients); false (with the test failed) if not.
  bool startLab(int hosts, int clients = 0) {
    lab_ = std::make_unique<LabSession>("stk");
    bool up = lab_->up(hosts, "info", clients);
    EXPECT_TRUE(up) << lab_->error();
    return up;
  }

  std::string host(int index) const { return lab_->hostNamespace(index); }
  CommandResult cli(const std::vector<std::string>& args, int on = 1) {
    return lab_->cli(on, args);
  }

  // `overmesh stack deploy -c F… [flags] STACK` on h1 with `environment` (K=V) set for the
  // CLI, whose interpolation reads its own process environment.
  CommandResult deploy(const std::vector<std::string>& files, const std::string& stack,
                       const std::vector<std::string>& flags = {},
                       const std::vector<std::string>& environment = {}) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), environment.begin(), environment.end());
    argv.insert(argv.end(), {binaryPath("overmesh"), "stack", "deploy"});
    for (const auto& file : files) {
      argv.insert(argv.end(), {"-c", fixture(file)});
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(stack);
    return lab_->exec(1, argv);
  }

  std::set<std::string> networkNames() { return namesIn(lab_->json(1, {"network", "ls"})); }
  std::set<std::string> serviceNames() { return namesIn(lab_->json(1, {"service", "ls"})); }

  nlohmann::json inspect(const std::string& kind, const std::string& name) {
    auto result = cli({kind, "inspect", name});
    auto json = nlohmann::json::parse(result.out, nullptr, false);
    return json.is_array() && !json.empty() ? json[0] : nlohmann::json();
  }

  std::vector<nlohmann::json> runningTasks(const std::string& service) {
    std::vector<nlohmann::json> out;
    auto all = lab_->json(1, {"ps"});
    if (!all.is_array()) {
      return out;
    }
    for (const auto& task : all) {
      if (task.value("serviceName", "") == service && task.value("desiredState", "") == "running" &&
          task.value("state", "") == "running") {
        out.push_back(task);
      }
    }
    return out;
  }
  bool waitRunning(const std::string& service, std::size_t count,
                   std::chrono::seconds bound = kConverge) {
    return eventually([&] { return runningTasks(service).size() == count; }, bound);
  }
  // The name of the service's one running task ("" when not exactly one runs).
  std::string taskOf(const std::string& service) {
    auto tasks = runningTasks(service);
    return tasks.size() == 1 ? tasks[0].value("name", "") : "";
  }
  // The IDs of the service's running tasks: equal before and after = nothing restarted.
  std::set<std::string> taskIds(const std::string& service) {
    std::set<std::string> out;
    for (const auto& task : runningTasks(service)) {
      out.insert(task.value("id", ""));
    }
    return out;
  }
  std::string addressOf(const std::string& service) {
    auto tasks = runningTasks(service);
    if (tasks.empty() || tasks[0].value("attachments", nlohmann::json::array()).empty()) {
      return "";
    }
    return withoutPrefix(tasks[0]["attachments"][0].value("address", ""));
  }

  CommandResult inTask(const std::string& task, const std::vector<std::string>& argv) {
    std::vector<std::string> args = {"exec", task, "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    return cli(args);
  }
  // What a process task's socat server at TARGET:80 answers `from` (its hostname), or "".
  std::string answer(const std::string& from, const std::string& target) {
    return firstLine(
        inTask(from, {"socat", "-T3", "-", fmt::format("TCP:{}:80,connect-timeout=3", target)})
            .out);
  }
  // The page an image task's web server at http://TARGET/ gives `from`, or "".
  std::string page(const std::string& from, const std::string& target) {
    // timeout(1), not wget -T: Debian 12's busybox-static wget crashes (SIGSEGV) with -T.
    return firstLine(
        inTask(from, {"timeout", "5", "wget", "-q", "-O", "-", "http://" + target + "/"}).out);
  }

  std::unique_ptr<LabSession> lab_;
  std::unique_ptr<LabRegistry> registry_;
};

// ---------------------------------------------------------------------------------------
// Docker's traps 1 and 3, isolation between stacks, aliases, attachable, ls/services/ps/rm.

class StackNetworksTest : public StackLab {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
  }
};

TEST_F(StackNetworksTest, DefaultNetworkPerStackAliasesInsideNothingAcrossAndRmSparesOthers) {
  ASSERT_TRUE(startLab(3));

  // Trap 1: no networks in the file → <stack>_default, created first.
  auto alpha = deploy({"default.yml"}, "alpha");
  ASSERT_EQ(alpha.exitCode, 0) << alpha.out << alpha.err;
  auto lines = nonEmptyLines(alpha.out);
  EXPECT_EQ(lines.size(), 3u) << alpha.out;
  EXPECT_EQ(lineIndex(lines, "Creating network alpha_default"), 0) << alpha.out;
  EXPECT_GT(lineIndex(lines, "Creating service alpha_web"), 0) << alpha.out;
  EXPECT_GT(lineIndex(lines, "Creating service alpha_client"), 0) << alpha.out;
  auto beta = deploy({"default.yml"}, "beta");
  ASSERT_EQ(beta.exitCode, 0) << beta.out << beta.err;
  EXPECT_THAT(beta.out, HasSubstr("Creating network beta_default"));

  auto network = inspect("network", "alpha_default");
  ASSERT_TRUE(network.is_object()) << cli({"network", "inspect", "alpha_default"}).err;
  EXPECT_EQ(network.value("driver", ""), "overlay");
  EXPECT_FALSE(network.value("attachable", true)) << "stack networks are not attachable";
  EXPECT_EQ(network["labels"].value("com.docker.stack.namespace", ""), "alpha") << network;
  EXPECT_NE(network.value("subnet", ""), inspect("network", "beta_default").value("subnet", ""))
      << "each default network has its own subnet from the pool";

  auto web = inspect("service", "alpha_web");
  ASSERT_TRUE(web.is_object());
  EXPECT_EQ(web["spec"]["labels"].value("com.docker.stack.namespace", ""), "alpha") << web;
  ASSERT_EQ(web["spec"]["networks"].size(), 1u) << web;
  EXPECT_THAT(web["spec"]["networks"][0]["aliases"].get<std::vector<std::string>>(),
              ::testing::Contains("web"))
      << web;

  for (const auto* service : {"alpha_web", "alpha_client", "beta_web", "beta_client"}) {
    ASSERT_TRUE(waitRunning(service, 1)) << service << cli({"stack", "ps", "alpha"}).out;
  }
  std::string alphaClient = taskOf("alpha_client");
  std::string betaClient = taskOf("beta_client");
  std::string alphaWeb = taskOf("alpha_web");
  std::string betaWeb = taskOf("beta_web");

  // Inside a stack: the key is an alias, and <stack>_<key> the service's name.
  EXPECT_TRUE(eventually([&] { return answer(alphaClient, "web") == alphaWeb; }, kConverge))
      << "alpha_client reaches web (the alias): " << answer(alphaClient, "web");
  EXPECT_EQ(answer(alphaClient, "alpha_web"), alphaWeb);
  EXPECT_TRUE(eventually([&] { return answer(betaClient, "web") == betaWeb; }, kConverge))
      << "beta's own web, not alpha's: " << answer(betaClient, "web");

  // Trap 2: across stacks on their own networks, the name does not resolve and the
  // address is dropped, both ways.
  auto lookup = inTask(betaClient, {"getent", "ahostsv4", "alpha_web"});
  EXPECT_NE(lookup.exitCode, 0) << "alpha_web resolves in beta: " << lookup.out;
  lookup = inTask(alphaClient, {"getent", "ahostsv4", "beta_web"});
  EXPECT_NE(lookup.exitCode, 0) << "beta_web resolves in alpha: " << lookup.out;
  std::string alphaWebAddress = addressOf("alpha_web");
  std::string betaWebAddress = addressOf("beta_web");
  ASSERT_FALSE(alphaWebAddress.empty());
  ASSERT_FALSE(betaWebAddress.empty());
  EXPECT_EQ(answer(betaClient, alphaWebAddress), "") << "beta reaches alpha_web's address";
  EXPECT_EQ(answer(alphaClient, betaWebAddress), "") << "alpha reaches beta_web's address";
  EXPECT_EQ(answer(alphaClient, alphaWebAddress), alphaWeb) << "the address itself works inside";

  // Not attachable: a standalone task cannot join a stack's default network.
  auto run = cli({"run", "--network", "alpha_default", "--name", "intruder", "--", "sleep", "60"});
  EXPECT_NE(run.exitCode, 0) << run.out;
  EXPECT_THAT(run.err, HasSubstr("not attachable"));

  // Trap 3: a declared network without name: is prefixed; with name: it is taken as is;
  // one no service uses is not created; nor is gamma_default (every service declares).
  auto gamma = deploy({"declared.yml"}, "gamma");
  ASSERT_EQ(gamma.exitCode, 0) << gamma.out << gamma.err;
  EXPECT_THAT(gamma.out, HasSubstr("Creating network gamma_front"));
  EXPECT_THAT(gamma.out, HasSubstr("Creating network backplane"));
  auto names = networkNames();
  EXPECT_TRUE(names.contains("gamma_front")) << gamma.out;
  EXPECT_TRUE(names.contains("backplane")) << gamma.out;
  EXPECT_FALSE(names.contains("gamma_back"));
  EXPECT_FALSE(names.contains("gamma_unused")) << "no service uses it";
  EXPECT_FALSE(names.contains("unused"));
  EXPECT_FALSE(names.contains("gamma_default")) << "every service declares its networks";
  EXPECT_EQ(inspect("network", "backplane")["labels"].value("com.docker.stack.namespace", ""),
            "gamma");
  ASSERT_TRUE(waitRunning("gamma_app", 1));

  // stack ls, services, ps.
  auto stacks = lab_->json(1, {"stack", "ls"});
  ASSERT_TRUE(stacks.is_array()) << cli({"stack", "ls", "--format", "json"}).out;
  std::map<std::string, int> serviceCounts;
  for (const auto& stack : stacks) {
    serviceCounts[stack.value("name", "")] = stack.value("services", -1);
  }
  EXPECT_EQ(serviceCounts, (std::map<std::string, int>{{"alpha", 2}, {"beta", 2}, {"gamma", 1}}));
  auto table = nonEmptyLines(cli({"stack", "ls"}).out);
  ASSERT_EQ(table.size(), 4u);
  EXPECT_THAT(table[0], StartsWith("NAME"));
  EXPECT_THAT(table[0], HasSubstr("SERVICES"));
  EXPECT_THAT(table[1], StartsWith("alpha ")) << "ordered by name";
  EXPECT_THAT(table[2], StartsWith("beta "));
  EXPECT_THAT(table[3], StartsWith("gamma "));
  auto services = cli({"stack", "services", "alpha"});
  EXPECT_EQ(services.exitCode, 0) << services.err;
  EXPECT_EQ(nonEmptyLines(services.out).size(), 3u) << services.out;
  EXPECT_THAT(services.out, HasSubstr("alpha_web"));
  EXPECT_THAT(services.out, HasSubstr("alpha_client"));
  EXPECT_THAT(services.out, Not(HasSubstr("beta_")));
  auto ps = cli({"stack", "ps", "alpha"});
  EXPECT_EQ(ps.exitCode, 0) << ps.err;
  EXPECT_THAT(ps.out, HasSubstr(alphaWeb.substr(0, alphaWeb.rfind('.'))));  // alpha_web.1
  EXPECT_THAT(ps.out, HasSubstr("alpha_client.1"));
  EXPECT_THAT(ps.out, Not(HasSubstr("beta_")));

  // stack rm: services first, then the stack's network; beta and gamma untouched.
  auto betaIds = taskIds("beta_web");
  auto removed = cli({"stack", "rm", "alpha"});
  EXPECT_EQ(removed.exitCode, 0) << removed.out << removed.err;
  auto removedLines = nonEmptyLines(removed.out);
  EXPECT_EQ(removedLines.size(), 3u) << removed.out;
  int network_ = lineIndex(removedLines, "Removing network alpha_default");
  EXPECT_EQ(network_, 2) << removed.out;
  EXPECT_GE(lineIndex(removedLines, "Removing service alpha_web"), 0) << removed.out;
  EXPECT_GE(lineIndex(removedLines, "Removing service alpha_client"), 0) << removed.out;
  EXPECT_TRUE(eventually([&] { return !networkNames().contains("alpha_default"); }, kConverge));
  EXPECT_EQ(serviceNames(), (std::set<std::string>{"beta_web", "beta_client", "gamma_app"}));
  EXPECT_TRUE(networkNames().contains("beta_default"));
  EXPECT_EQ(taskIds("beta_web"), betaIds) << "beta's tasks kept running";
  EXPECT_EQ(answer(betaClient, "web"), betaWeb) << "beta still works";

  auto again = cli({"stack", "rm", "alpha"});
  EXPECT_EQ(again.exitCode, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("Nothing found in stack: alpha"));

  // `down` removes several stacks at once: gamma's networks, backplane included.
  auto down = cli({"stack", "down", "beta", "gamma"});
  EXPECT_EQ(down.exitCode, 0) << down.out << down.err;
  EXPECT_THAT(down.out, HasSubstr("Removing network backplane"));
  EXPECT_TRUE(eventually([&] { return serviceNames().empty(); }, kConverge));
  EXPECT_TRUE(eventually(
      [&] {
        auto left = networkNames();
        return !left.contains("beta_default") && !left.contains("gamma_front") &&
               !left.contains("backplane");
      },
      kConverge))
      << cli({"network", "ls"}).out;
}

// The traps' messages, and a deploy that fails leaves no network and no service behind.
TEST_F(StackNetworksTest, TrapsAreRefusedWithTheWayOutAndLeaveNothingBehind) {
  ASSERT_TRUE(startLab(1));
  auto taken = cli({"network", "create", "-d", "overlay", "--subnet", "10.0.31.0/24", "taken_net"});
  ASSERT_EQ(taken.exitCode, 0) << taken.err;
  auto holder = cli({"service", "create", "-d", "--name", "holder", "--publish", "8080:80", "--",
                     "sleep", "3600"});
  ASSERT_EQ(holder.exitCode, 0) << holder.err;
  const auto networksBefore = networkNames();
  const auto servicesBefore = serviceNames();
  ASSERT_EQ(servicesBefore, std::set<std::string>{"holder"});

  auto expectNothingChanged = [&](const std::string& what) {
    EXPECT_EQ(networkNames(), networksBefore) << what << " left a network behind";
    EXPECT_EQ(serviceNames(), servicesBefore) << what << " left a service behind";
    auto stacks = lab_->json(1, {"stack", "ls"});
    EXPECT_TRUE(stacks.is_array() && stacks.empty()) << what << ": " << stacks;
  };

  // An external network nobody created: Docker's words, then the command that creates it.
  auto missing = deploy({"external-missing.yml"}, "miss");
  EXPECT_EQ(missing.exitCode, 1) << missing.out;
  EXPECT_THAT(missing.err, StartsWith("Error: "));
  EXPECT_THAT(missing.err,
              HasSubstr("network \"nowhere_net\" is declared as external, but could not be "
                        "found. You need to create a swarm-scoped network before the stack is "
                        "deployed"));
  EXPECT_THAT(missing.err, HasSubstr("overmesh network create -d overlay nowhere_net"));
  EXPECT_EQ(missing.out, "") << "nothing was created";
  expectNothingChanged("a missing external network");

  // Trap 4: a declared network whose name exists (without the stack's label).
  auto exists = deploy({"name-taken.yml"}, "trap");
  EXPECT_EQ(exists.exitCode, 1) << exists.out;
  EXPECT_THAT(exists.err, HasSubstr("network with name taken_net already exists"));
  EXPECT_THAT(exists.err, HasSubstr("external")) << "the way out: declare it external";
  EXPECT_THAT(exists.err, HasSubstr("name:")) << "or give it another name:";
  expectNothingChanged("a network name taken");

  // Both the legacy external name and name: are set: refused, naming the file and key.
  auto both = deploy({"both-names.yml"}, "both");
  EXPECT_EQ(both.exitCode, 1) << both.out;
  EXPECT_THAT(both.err, HasSubstr("both-names.yml"));
  EXPECT_THAT(both.err, HasSubstr("networks.default"));
  expectNothingChanged("two names for one network");

  // One invalid service in a file: refused before anything is sent.
  auto invalid = deploy({"invalid-service.yml"}, "inv");
  EXPECT_EQ(invalid.exitCode, 1) << invalid.out;
  EXPECT_THAT(invalid.err, HasSubstr("services.bad.deploy.replicas"));
  EXPECT_THAT(invalid.err, HasSubstr("many"));
  expectNothingChanged("an invalid service");

  // A key Docker refuses for stacks (mem_limit): refused, naming it.
  auto forbidden = deploy({"forbidden.yml"}, "forb");
  EXPECT_EQ(forbidden.exitCode, 1) << forbidden.out;
  EXPECT_THAT(forbidden.err, HasSubstr("services.web.mem_limit"));
  expectNothingChanged("a forbidden key");

  // A file the loader accepts but the cluster refuses (a published port held by a service
  // outside the stack): no network, no first service left behind.
  auto conflict = deploy({"port-conflict.yml"}, "clash");
  EXPECT_EQ(conflict.exitCode, 1) << conflict.out;
  EXPECT_THAT(conflict.err, HasSubstr("8080"));
  expectNothingChanged("a port conflict");

  // The same file without the conflict deploys (the failed attempts kept nothing that
  // gets in the way).
  ASSERT_EQ(cli({"service", "rm", "holder"}).exitCode, 0);
  auto retried = deploy({"port-conflict.yml"}, "clash");
  EXPECT_EQ(retried.exitCode, 0) << retried.out << retried.err;
  EXPECT_THAT(retried.out, HasSubstr("Creating network clash_default"));

  // Keys Swarm does not run are ignored with Docker's warnings on stderr; the stack deploys.
  auto warned = deploy({"warnings.yml"}, "warn");
  EXPECT_EQ(warned.exitCode, 0) << warned.out << warned.err;
  EXPECT_THAT(warned.err, HasSubstr("Ignoring unsupported options: build, links"));
  EXPECT_THAT(warned.err, HasSubstr("Ignoring deprecated options: container_name ("));
  EXPECT_THAT(warned.err, HasSubstr("expose ("));
  EXPECT_THAT(warned.out, HasSubstr("Creating service warn_web"));
  EXPECT_THAT(warned.out, Not(HasSubstr("Ignoring"))) << "warnings go to stderr";

  // `lab down` lists the lab's namespaces before it stops the daemons: tasks still being
  // started then would leave their sandboxes behind, so the test ends with everything up.
  for (const auto* service : {"clash_first", "clash_second", "warn_web", "warn_db"}) {
    EXPECT_TRUE(waitRunning(service, 1)) << service;
  }
}

// Deploying again touches only what changed; --prune removes what the file dropped.
TEST_F(StackNetworksTest, RedeployTouchesOnlyWhatChangedAndPruneRemovesTheRest) {
  ASSERT_TRUE(startLab(2));
  auto first = deploy({"redeploy.yml"}, "red");
  ASSERT_EQ(first.exitCode, 0) << first.out << first.err;
  for (const auto* service : {"red_a", "red_b", "red_c"}) {
    ASSERT_TRUE(waitRunning(service, 1)) << service;
  }
  std::map<std::string, std::set<std::string>> ids;
  for (const auto* service : {"red_a", "red_b", "red_c"}) {
    ids[service] = taskIds(service);
  }

  // The same file: every service unchanged, no task restarted, no network created.
  auto same = deploy({"redeploy.yml"}, "red");
  ASSERT_EQ(same.exitCode, 0) << same.out << same.err;
  auto lines = nonEmptyLines(same.out);
  EXPECT_EQ(lines.size(), 3u) << same.out;
  for (const auto* service : {"red_a", "red_b", "red_c"}) {
    EXPECT_GE(lineIndex(lines, fmt::format("Service {} is unchanged", service)), 0) << same.out;
  }
  std::this_thread::sleep_for(seconds(2));  // a wrongful restart would show by now
  for (const auto* service : {"red_a", "red_b", "red_c"}) {
    EXPECT_EQ(taskIds(service), ids[service]) << service << " was restarted";
  }

  // B_VERSION=2 changes b's environment: only b is updated.
  auto changed = deploy({"redeploy.yml"}, "red", {}, {"B_VERSION=2"});
  ASSERT_EQ(changed.exitCode, 0) << changed.out << changed.err;
  lines = nonEmptyLines(changed.out);
  EXPECT_EQ(lines.size(), 3u) << changed.out;
  auto serviceId = inspect("service", "red_b").value("id", "");
  ASSERT_FALSE(serviceId.empty());
  const std::string updating = "Updating service red_b (id: ";
  bool updatedLine = std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return line.starts_with(updating) && line.ends_with(")") && line.size() > updating.size() + 1 &&
           serviceId.starts_with(line.substr(updating.size(), line.size() - updating.size() - 1));
  });
  EXPECT_TRUE(updatedLine) << changed.out;
  EXPECT_GE(lineIndex(lines, "Service red_a is unchanged"), 0) << changed.out;
  EXPECT_GE(lineIndex(lines, "Service red_c is unchanged"), 0) << changed.out;
  EXPECT_TRUE(eventually(
      [&] {
        auto now = taskIds("red_b");
        return now.size() == 1 && now != ids["red_b"];
      },
      kConverge))
      << "b's task was replaced: " << cli({"stack", "ps", "red"}).out;
  EXPECT_THAT(inspect("service", "red_b")["spec"]["env"].dump(), HasSubstr("VERSION=2"));
  EXPECT_EQ(taskIds("red_a"), ids["red_a"]) << "a untouched";
  EXPECT_EQ(taskIds("red_c"), ids["red_c"]) << "c untouched";

  // Without --prune a service dropped from the file stays; with it, it goes.
  auto kept = deploy({"redeploy-pruned.yml"}, "red", {}, {"B_VERSION=2"});
  ASSERT_EQ(kept.exitCode, 0) << kept.out << kept.err;
  EXPECT_THAT(kept.out, Not(HasSubstr("Removing")));
  EXPECT_TRUE(serviceNames().contains("red_c"));
  auto pruned = deploy({"redeploy-pruned.yml"}, "red", {"--prune"}, {"B_VERSION=2"});
  ASSERT_EQ(pruned.exitCode, 0) << pruned.out << pruned.err;
  lines = nonEmptyLines(pruned.out);
  EXPECT_GE(lineIndex(lines, "Removing service red_c"), 0) << pruned.out;
  EXPECT_GE(lineIndex(lines, "Service red_a is unchanged"), 0) << pruned.out;
  EXPECT_GE(lineIndex(lines, "Service red_b is unchanged"), 0) << pruned.out;
  EXPECT_EQ(serviceNames(), (std::set<std::string>{"red_a", "red_b"}));
  EXPECT_EQ(taskIds("red_a"), ids["red_a"]) << "a still untouched";
}

// ---------------------------------------------------------------------------------------
// The seed's fix with images from the lab registry: two stacks share chaos_net.

class StackImagesTest : public StackLab {
 protected:
  void SetUp() override {
    if (!canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create network namespaces";
    }
    if (auto missing = missingImageTools(); !missing.empty()) {
      GTEST_SKIP() << "needs " << missing << " (scripts/setup.sh installs them)";
    }
    const auto& images = TestImages::get();
    ASSERT_TRUE(images.error().empty()) << images.error();
    ASSERT_TRUE(startLab(3, 1));
    registry_ = std::make_unique<LabRegistry>(*lab_);
    auto started = registry_->start();
    ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
    auto pushed = registry_->push(images.archive(1), {"web:1"});
    ASSERT_EQ(pushed.exitCode, 0) << pushed.out << pushed.err;
    auto insecure = cli({"swarm", "update", "--insecure-registry", LabRegistry::kAddress});
    ASSERT_EQ(insecure.exitCode, 0) << insecure.out << insecure.err;
  }

  std::vector<std::string> environment() const {
    return {fmt::format("REGISTRY={}", LabRegistry::kAddress),
            fmt::format("PROVIDER_NODE={}", host(2)), fmt::format("CONSUMER_NODE={}", host(3))};
  }
};

TEST_F(StackImagesTest, SharedExternalNetworkJoinsStacksAcrossHostsAndRmSparesIt) {
  auto created = cli({"network", "create", "-d", "overlay", "--subnet=10.0.15.0/24", "chaos_net"});
  ASSERT_EQ(created.exitCode, 0) << created.err;

  auto provider = deploy({"provider.yml"}, "prov", {}, environment());
  ASSERT_EQ(provider.exitCode, 0) << provider.out << provider.err;
  EXPECT_EQ(nonEmptyLines(provider.out), std::vector<std::string>{"Creating service prov_provider"})
      << "an external network is used, not created";
  auto consumer = deploy({"consumer.yml"}, "cons", {}, environment());
  ASSERT_EQ(consumer.exitCode, 0) << consumer.out << consumer.err;
  EXPECT_EQ(nonEmptyLines(consumer.out),
            std::vector<std::string>{"Creating service cons_consumer"});
  auto loner = deploy({"loner.yml"}, "solo", {}, environment());
  ASSERT_EQ(loner.exitCode, 0) << loner.out << loner.err;
  EXPECT_THAT(loner.out, HasSubstr("Creating network solo_default"));

  for (const auto* service : {"prov_provider", "cons_consumer", "solo_loner"}) {
    ASSERT_TRUE(waitRunning(service, 1, kPull)) << service << cli({"service", "ps", service}).out;
  }
  auto image = inspect("service", "prov_provider")["spec"]["labels"];
  EXPECT_EQ(image.value("com.docker.stack.image", ""),
            std::string(LabRegistry::kAddress) + "/web:1")
      << "the image as the file wrote it";
  auto providerTask = runningTasks("prov_provider")[0];
  auto consumerTask = runningTasks("cons_consumer")[0];
  EXPECT_EQ(providerTask.value("nodeName", ""), host(2));
  EXPECT_EQ(consumerTask.value("nodeName", ""), host(3)) << "across hosts";
  std::string providerName = providerTask.value("name", "");
  std::string consumerName = consumerTask.value("name", "");
  std::string lonerName = taskOf("solo_loner");

  // Both ways, by service name and by alias, across hosts.
  EXPECT_TRUE(eventually(
      [&] { return page(consumerName, "prov_provider") == "web v1 " + providerName; }, kConverge))
      << page(consumerName, "prov_provider");
  EXPECT_EQ(page(consumerName, "provider"), "web v1 " + providerName);
  EXPECT_TRUE(eventually(
      [&] { return page(providerName, "cons_consumer") == "web v1 " + consumerName; }, kConverge))
      << page(providerName, "cons_consumer");
  EXPECT_EQ(page(providerName, "consumer"), "web v1 " + consumerName);

  // The Dubbo case: the address the provider reports on its own eth0 (what it would
  // register) is in chaos_net's subnet and reachable from the consumer.
  auto eth0 = inTask(providerName, {"ip", "-4", "-o", "addr", "show", "eth0"});
  ASSERT_EQ(eth0.exitCode, 0) << eth0.err;
  auto inet = eth0.out.find("inet ");
  ASSERT_NE(inet, std::string::npos) << eth0.out;
  std::string registered = eth0.out.substr(inet + 5, eth0.out.find('/', inet) - inet - 5);
  EXPECT_THAT(registered, StartsWith("10.0.15.")) << eth0.out;
  EXPECT_EQ(page(consumerName, registered), "web v1 " + providerName);

  // A stack on its own default network: neither the names nor the address reach.
  EXPECT_EQ(page(lonerName, "prov_provider"), "") << "the name does not resolve in solo";
  EXPECT_EQ(page(lonerName, registered), "") << "the address is dropped";
  EXPECT_EQ(page(consumerName, "solo_loner"), "");
  EXPECT_EQ(page(consumerName, addressOf("solo_loner")), "");

  // stack rm prov: its service goes, chaos_net (external) and the other stacks stay.
  auto consumerIds = taskIds("cons_consumer");
  auto removed = cli({"stack", "rm", "prov"});
  EXPECT_EQ(removed.exitCode, 0) << removed.out << removed.err;
  EXPECT_EQ(nonEmptyLines(removed.out), std::vector<std::string>{"Removing service prov_provider"});
  EXPECT_TRUE(networkNames().contains("chaos_net"));
  EXPECT_EQ(serviceNames(), (std::set<std::string>{"cons_consumer", "solo_loner"}));
  EXPECT_EQ(taskIds("cons_consumer"), consumerIds);
  EXPECT_TRUE(eventually([&] { return page(consumerName, "provider").empty(); }, kConverge))
      << "the provider's name is gone";
  auto last = cli({"stack", "rm", "cons"});
  EXPECT_EQ(last.exitCode, 0) << last.out << last.err;
  EXPECT_THAT(last.out, Not(HasSubstr("chaos_net")));
  EXPECT_TRUE(networkNames().contains("chaos_net")) << "never an external network";
}

// ---------------------------------------------------------------------------------------
// `stack config`: no cluster needed; the CLI merges and interpolates locally.

TEST(StackConfigTest, PrintsTheMergedInterpolatedFile) {
  auto result = runCommand({"/usr/bin/env", "TAG=2", "REPLICAS=3", "LEVEL=high",
                            binaryPath("overmesh"), "stack", "config", "-c",
                            fixture("config-base.yml"), "-c", fixture("config-override.yml")});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto parsed = compose::parseYaml(result.out, "stack config");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message << "\n" << result.out;
  const auto* services = parsed->find("services");
  ASSERT_TRUE(services != nullptr && services->isMapping()) << result.out;
  const auto* web = services->find("web");
  ASSERT_TRUE(web != nullptr && web->isMapping()) << result.out;
  const auto* image = web->find("image");
  ASSERT_TRUE(image != nullptr) << result.out;
  EXPECT_EQ(image->text, "registry.example/web:2") << "${TAG:-latest} from the environment";
  const auto* environment = web->find("environment");
  ASSERT_TRUE(environment != nullptr) << result.out;
  // Either form may be printed: a mapping or a "K=V" list.
  std::map<std::string, std::string> variables;
  if (environment->isMapping()) {
    for (const auto& [key, value] : environment->entries) {
      variables[key.text] = value.text;
    }
  } else {
    for (const auto& item : environment->items) {
      auto equals = item.text.find('=');
      variables[item.text.substr(0, equals)] = item.text.substr(equals + 1);
    }
  }
  EXPECT_EQ(variables, (std::map<std::string, std::string>{
                           {"MODE", "override"}, {"KEEP", "yes"}, {"LEVEL", "high"}}))
      << "maps merge key by key, the later file winning";
  const auto* ports = web->find("ports");
  ASSERT_TRUE(ports != nullptr && ports->isSequence()) << result.out;
  EXPECT_EQ(ports->items.size(), 2u) << "ports of both files: " << result.out;
  const auto* deploy = web->find("deploy");
  ASSERT_TRUE(deploy != nullptr && deploy->find("replicas") != nullptr) << result.out;
  EXPECT_EQ(deploy->find("replicas")->text, "3");
  EXPECT_TRUE(services->find("db") != nullptr) << "the base file's other service stays";
  EXPECT_THAT(result.out, Not(HasSubstr("${"))) << "nothing left to interpolate";

  // A variable that is not set: a blank string and Docker's warning on stderr.
  auto unset = runCommand({"/usr/bin/env", "-u", "LEVEL", "TAG=2", "REPLICAS=3",
                           binaryPath("overmesh"), "stack", "config", "-c",
                           fixture("config-base.yml"), "-c", fixture("config-override.yml")});
  EXPECT_EQ(unset.exitCode, 0) << unset.err;
  EXPECT_THAT(unset.err,
              HasSubstr("The \"LEVEL\" variable is not set. Defaulting to a blank string."));
}

}  // namespace
}  // namespace overmesh::testing
