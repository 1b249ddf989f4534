// Tasks from OCI images as an operator runs them, in a lab of 3 hosts and a client c1 that
// runs a registry (scripts/lab-registry.sh) serving the test image built offline
// (scripts/test-image.sh: busybox httpd answering "web v<N> <hostname>"): a service pulled
// on every host and reached over the overlay by name; the digest pinned at create, so a
// re-tag in the registry changes nothing until `service update --image`; pull failures as
// task errors in the registry's words, retried until the registry is back; a daemon
// restart under running containers; `image load` of a docker-archive; a registry mirror
// serving docker.io names. Everything goes through the CLI (the contract of issue 10).
//
// Run one:  ctest --test-dir BUILD -R ImagesTest.DigestPinning   (as root)

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "lab/lab_leftovers.h"
#include "support/image_lab.h"
#include "support/lab_session.h"

namespace overmesh::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A pull of the 2 MB test image takes a second or two; the bound also covers a first
// attempt that failed because a node had not yet seen the registry settings (the
// orchestrator retries after the restart delay).
constexpr auto kPull = seconds(120);
const std::string kRegistry = LabRegistry::kAddress;
const std::string kWeb1 = kRegistry + "/web:1";

std::string withoutPrefix(const std::string& address) {
  return address.substr(0, address.find('/'));
}

std::string firstLine(const std::string& text) {
  auto lines = nonEmptyLines(text);
  return lines.empty() ? "" : lines.front();
}

class ImagesTest : public ::testing::Test {
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
    lab_ = std::make_unique<LabSession>("img");
    ASSERT_TRUE(lab_->up(3, "info", 1)) << lab_->error();
    registry_ = std::make_unique<LabRegistry>(*lab_);
    auto started = registry_->start();
    ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
    auto pushed = registry_->push(images.archive(1), {"web:1", "library/web:1"});
    ASSERT_EQ(pushed.exitCode, 0) << pushed.out << pushed.err;
    auto insecure = cli({"swarm", "update", "--insecure-registry", kRegistry});
    ASSERT_EQ(insecure.exitCode, 0) << insecure.out << insecure.err;
    auto network = cli({"network", "create", "--attachable", "--subnet", "10.0.40.0/24", "app"});
    ASSERT_EQ(network.exitCode, 0) << network.err;
  }

  void TearDown() override {
    if (lab_ && HasFailure()) {
      std::cerr << lab_->logs();
    }
    registry_.reset();
    lab_.reset();  // lab down, then what podman left under the lab's directory
  }

  std::string host(int index) const { return lab_->hostNamespace(index); }
  CommandResult cli(const std::vector<std::string>& args, int on = 1) {
    return lab_->cli(on, args);
  }

  std::vector<nlohmann::json> tasksOf(const std::string& service) {
    std::vector<nlohmann::json> out;
    auto all = lab_->json(1, {"ps"});
    if (!all.is_array()) {
      return out;
    }
    for (const auto& task : all) {
      if (task.value("serviceName", "") == service || task.value("name", "") == service) {
        out.push_back(task);
      }
    }
    return out;
  }
  std::vector<nlohmann::json> runningTasks(const std::string& service) {
    std::vector<nlohmann::json> out;
    for (const auto& task : tasksOf(service)) {
      if (task.value("desiredState", "") == "running" && task.value("state", "") == "running") {
        out.push_back(task);
      }
    }
    return out;
  }
  bool waitRunning(const std::string& service, std::size_t count) {
    return eventually([&] { return runningTasks(service).size() == count; }, kPull);
  }
  std::string servicePs(const std::string& service) {
    auto ps = cli({"service", "ps", "--no-trunc", service});
    return ps.out + ps.err;
  }

  static std::string imageOf(const nlohmann::json& task) {
    return task.contains("container") ? task["container"].value("image", "") : "";
  }
  static std::string addressOf(const nlohmann::json& task) {
    const auto& attachments = task.value("attachments", nlohmann::json::array());
    return attachments.empty() ? "" : withoutPrefix(attachments[0].value("address", ""));
  }
  // The page a task's web server gives to `from` (a task name) for http://TARGET/.
  std::string page(const std::string& from, const std::string& target) {
    return firstLine(
        // timeout(1), not wget -T: Debian 12's busybox-static wget crashes (SIGSEGV) with -T.
        cli({"exec", from, "--", "timeout", "5", "wget", "-q", "-O", "-", "http://" + target + "/"})
            .out);
  }

  std::unique_ptr<LabSession> lab_;
  std::unique_ptr<LabRegistry> registry_;
};

TEST_F(ImagesTest, ThreeReplicasFromTheRegistryRunOnThreeHostsAndAnswerOverTheOverlay) {
  auto created = cli({"service", "create", "-d", "--name", "web", "--replicas", "3", "--network",
                      "app", "--image", kWeb1});
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  ASSERT_TRUE(waitRunning("web", 3)) << servicePs("web");

  auto tasks = runningTasks("web");
  std::set<std::string> nodes;
  std::string digest = registry_->digest("web:1");
  ASSERT_THAT(digest, StartsWith("sha256:"));
  for (const auto& task : tasks) {
    nodes.insert(task.value("nodeName", ""));
    EXPECT_EQ(imageOf(task), kWeb1 + "@" + digest) << "the record holds the pinned reference";
  }
  EXPECT_EQ(nodes, (std::set<std::string>{host(1), host(2), host(3)})) << servicePs("web");

  // Every node pulled it into its own store.
  for (int node = 1; node <= 3; ++node) {
    auto listed = cli({"image", "ls"}, node);
    EXPECT_EQ(listed.exitCode, 0) << listed.err;
    EXPECT_THAT(listed.out, HasSubstr(kRegistry + "/web")) << "node " << node;
  }

  std::set<std::string> names;
  for (const auto& task : tasks) {
    names.insert(task.value("name", ""));
  }
  for (const auto& task : tasks) {
    std::string name = task.value("name", "");
    // eth0 in the container holds the task's overlay address.
    auto eth0 = cli({"exec", name, "--", "ip", "-4", "-o", "addr", "show", "eth0"});
    EXPECT_EQ(eth0.exitCode, 0) << eth0.err;
    EXPECT_THAT(eth0.out, HasSubstr(addressOf(task) + "/")) << name;
    // Each replica reaches every other one by overlay address (across hosts) and finds
    // the service by name: its VIP spreads the requests over the replicas.
    for (const auto& other : tasks) {
      EXPECT_EQ(page(name, addressOf(other)), "web v1 " + other.value("name", ""))
          << name << " -> " << other.value("name", "");
    }
    std::set<std::string> answered;
    for (int request = 0; request < 12; ++request) {
      auto reply = page(name, "web");
      ASSERT_THAT(reply, StartsWith("web v1 ")) << name << " -> web";
      answered.insert(reply.substr(7));
    }
    EXPECT_GE(answered.size(), 2u) << name << ": the VIP spread 12 requests";
    for (const auto& replica : answered) {
      EXPECT_TRUE(names.contains(replica)) << "answered by " << replica;
    }
  }
}

TEST_F(ImagesTest, DigestPinnedAtCreateSurvivesARetagUntilTheServiceIsUpdated) {
  auto created = cli({"service", "create", "-d", "--name", "web", "--replicas", "2", "--network",
                      "app", "--image", kWeb1});
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  ASSERT_TRUE(waitRunning("web", 2)) << servicePs("web");
  std::string v1 = registry_->digest("web:1");
  ASSERT_THAT(v1, StartsWith("sha256:"));

  // web:1 now names v2 in the registry; v2 is also web:2.
  const auto& images = TestImages::get();
  auto retagged = registry_->push(images.archive(2), {"web:1", "web:2"});
  ASSERT_EQ(retagged.exitCode, 0) << retagged.out << retagged.err;
  std::string v2 = registry_->digest("web:1");
  ASSERT_THAT(v2, StartsWith("sha256:"));
  ASSERT_NE(v2, v1);

  // A third replica (on the host that has no image yet: a cold pull) still runs v1.
  auto scaled = cli({"service", "update", "-d", "--replicas", "3", "web"});
  ASSERT_EQ(scaled.exitCode, 0) << scaled.out << scaled.err;
  ASSERT_TRUE(waitRunning("web", 3)) << servicePs("web");
  for (const auto& task : runningTasks("web")) {
    std::string name = task.value("name", "");
    EXPECT_EQ(imageOf(task), kWeb1 + "@" + v1) << name;
    EXPECT_EQ(page(name, "127.0.0.1"), "web v1 " + name) << name;
  }

  // The update pins web:2 and rolls every replica to it.
  auto updated = cli({"service", "update", "-d", "--image", kRegistry + "/web:2", "web"});
  ASSERT_EQ(updated.exitCode, 0) << updated.out << updated.err;
  EXPECT_TRUE(eventually(
      [&] {
        auto running = runningTasks("web");
        if (running.size() != 3) {
          return false;
        }
        for (const auto& task : running) {
          if (imageOf(task) != kRegistry + "/web:2@" + v2) {
            return false;
          }
        }
        return true;
      },
      kPull))
      << servicePs("web");
  for (const auto& task : runningTasks("web")) {
    std::string name = task.value("name", "");
    EXPECT_EQ(page(name, "127.0.0.1"), "web v2 " + name) << name;
  }
}

TEST_F(ImagesTest, PullFailuresAreTaskErrorsInTheRegistrysWordsAndClearWhenItIsBack) {
  // A service that runs throughout, whose tasks must not be touched.
  auto steady = cli({"service", "create", "-d", "--name", "steady", "--replicas", "3", "--network",
                     "app", "--image", kWeb1});
  ASSERT_EQ(steady.exitCode, 0) << steady.out << steady.err;
  ASSERT_TRUE(waitRunning("steady", 3)) << servicePs("steady");
  std::set<std::string> steadyIds;
  for (const auto& task : runningTasks("steady")) {
    steadyIds.insert(task.value("id", ""));
  }

  auto failedWith = [&](const std::string& service, const std::string& words) {
    for (const auto& task : tasksOf(service)) {
      if (task.value("state", "") == "failed" &&
          task.value("message", "").find(words) != std::string::npos) {
        return true;
      }
    }
    return false;
  };

  // An image the registry does not have, and a tag it does not have. The manager cannot
  // pin them (a warning, as Docker gives); the node's pull fails with the registry's words.
  auto missing = cli({"service", "create", "-d", "--name", "missing", "--network", "app",
                      "--restart-delay", "1s", "--image", kRegistry + "/nosuch:1"});
  ASSERT_EQ(missing.exitCode, 0) << missing.out << missing.err;
  auto badTag =
      cli({"service", "create", "-d", "--name", "badtag", "--network", "app", "--restart-delay",
           "1s", "--no-resolve-image", "--image", kRegistry + "/web:nosuchtag"});
  ASSERT_EQ(badTag.exitCode, 0) << badTag.out << badTag.err;
  EXPECT_TRUE(eventually([&] { return failedWith("missing", "manifest unknown"); }, kPull))
      << servicePs("missing");
  EXPECT_TRUE(eventually([&] { return failedWith("badtag", "manifest unknown"); }, kPull))
      << servicePs("badtag");
  EXPECT_THAT(servicePs("missing"), HasSubstr("manifest unknown")) << "service ps shows it";
  EXPECT_THAT(servicePs("badtag"), HasSubstr("manifest unknown"));
  EXPECT_TRUE(runningTasks("missing").empty());

  // The registry down: a service of an image no node has yet fails with "connection
  // refused", and starts once the registry is back (the orchestrator retries).
  auto stopped = registry_->stop();
  ASSERT_EQ(stopped.exitCode, 0) << stopped.out << stopped.err;
  auto down = cli({"service", "create", "-d", "--name", "later", "--replicas", "2", "--network",
                   "app", "--restart-delay", "1s", "--image", kRegistry + "/library/web:1"});
  ASSERT_EQ(down.exitCode, 0) << down.out << down.err;
  EXPECT_TRUE(eventually([&] { return failedWith("later", "connection refused"); }, kPull))
      << servicePs("later");
  EXPECT_THAT(servicePs("later"), HasSubstr("connection refused"));
  auto restarted = registry_->start();
  ASSERT_EQ(restarted.exitCode, 0) << restarted.out << restarted.err;
  EXPECT_TRUE(waitRunning("later", 2)) << servicePs("later");
  for (const auto& task : runningTasks("later")) {
    EXPECT_EQ(page(task.value("name", ""), "127.0.0.1"), "web v1 " + task.value("name", ""));
  }

  // Nothing else was disturbed: the same steady tasks run and answer.
  std::set<std::string> nowIds;
  for (const auto& task : runningTasks("steady")) {
    nowIds.insert(task.value("id", ""));
    EXPECT_EQ(page(task.value("name", ""), "127.0.0.1"), "web v1 " + task.value("name", ""));
  }
  EXPECT_EQ(nowIds, steadyIds) << servicePs("steady");
  EXPECT_TRUE(runningTasks("missing").empty()) << "still failing: " << servicePs("missing");
}

TEST_F(ImagesTest, DaemonRestartKeepsContainersAndTheirConnections) {
  auto created = cli({"service", "create", "-d", "--name", "web", "--replicas", "3", "--network",
                      "app", "--image", kWeb1});
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  ASSERT_TRUE(waitRunning("web", 3)) << servicePs("web");

  // A long-lived TCP connection across hosts: `listener` on h2 keeps what it receives,
  // `talker` on h3 sends a line every 200 ms. If the connection broke, nc would end and
  // its container with it. (busybox nc half-closes the connection when its stdin ends:
  // the listener's stdin is a pipe that never does.)
  auto listener =
      cli({"run", "-d", "--network", "app", "--name", "listener", "--node", host(2), "--image",
           kWeb1, "--", "sh", "-c", "sleep 1000000 | nc -l -p 9000 > /tmp/received"});
  ASSERT_EQ(listener.exitCode, 0) << listener.out << listener.err;
  ASSERT_TRUE(waitRunning("listener", 1)) << cli({"ps"}).out;
  std::string listenerAddress = addressOf(runningTasks("listener").at(0));
  auto talker = cli({"run", "-d", "--network", "app", "--name", "talker", "--node", host(3),
                     "--image", kWeb1, "--", "sh", "-c",
                     "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done | nc " +
                         listenerAddress + " 9000"});
  ASSERT_EQ(talker.exitCode, 0) << talker.out << talker.err;
  ASSERT_TRUE(waitRunning("talker", 1)) << cli({"ps"}).out;
  auto received = [&] {
    auto counted = cli({"exec", "listener", "--", "sh", "-c", "wc -l < /tmp/received"});
    return counted.exitCode == 0 ? std::atol(firstLine(counted.out).c_str()) : -1L;
  };
  ASSERT_TRUE(eventually([&] { return received() > 5; }, seconds(20))) << "no ticks arrive";

  // What identifies a running container: its PID 1's start time (clock ticks since boot,
  // field 22 of /proc/1/stat, the same in every PID namespace), per task.
  auto startTimes = [&] {
    std::map<std::string, std::string> times;
    std::vector<std::string> names = {"listener", "talker"};
    for (const auto& task : runningTasks("web")) {
      names.push_back(task.value("name", ""));
    }
    for (const auto& name : names) {
      times[name] =
          firstLine(cli({"exec", name, "--", "sh", "-c", "cut -d' ' -f22 /proc/1/stat"}).out);
    }
    return times;
  };
  auto before = startTimes();
  for (const auto& [name, time] : before) {
    ASSERT_FALSE(time.empty()) << name;
  }

  for (int node = 1; node <= 3; ++node) {
    auto restarted = lab_->lab({"restart", host(node)});
    ASSERT_EQ(restarted.exitCode, 0) << restarted.out << restarted.err;
  }
  ASSERT_TRUE(eventually(
      [&] {
        auto nodes = lab_->json(1, {"node", "ls"});
        if (!nodes.is_array() || nodes.size() != 3) {
          return false;
        }
        for (const auto& node : nodes) {
          if (node.value("state", "") != "ready") {
            return false;
          }
        }
        return true;
      },
      seconds(60)));

  long ticks = received();
  EXPECT_TRUE(eventually([&] { return received() > ticks + 10; }, seconds(20)))
      << "the connection carries on after the restarts";
  EXPECT_EQ(runningTasks("web").size(), 3u) << servicePs("web");
  EXPECT_EQ(startTimes(), before) << "no container was restarted";
  for (const auto& task : runningTasks("web")) {
    EXPECT_EQ(page("talker", addressOf(task)), "web v1 " + task.value("name", ""));
  }
}

TEST_F(ImagesTest, ImageLoadedOnOneNodeRunsThereWithoutARegistry) {
  // overmesh.test/web:2 exists in no registry (overmesh.test does not resolve): only the
  // archive loaded on h2 can make it run.
  const auto& images = TestImages::get();
  auto loaded = cli({"image", "load", "-i", images.archive(2)}, 2);
  ASSERT_EQ(loaded.exitCode, 0) << loaded.out << loaded.err;
  EXPECT_THAT(cli({"image", "ls"}, 2).out, HasSubstr("overmesh.test/web"));
  EXPECT_THAT(cli({"image", "ls"}, 3).out, ::testing::Not(HasSubstr("overmesh.test/web")));

  auto ran = cli({"run", "-d", "--network", "app", "--name", "loaded", "--node", host(2), "--image",
                  "overmesh.test/web:2"});
  ASSERT_EQ(ran.exitCode, 0) << ran.out << ran.err;
  ASSERT_TRUE(waitRunning("loaded", 1)) << cli({"ps"}).out;
  EXPECT_EQ(page("loaded", "127.0.0.1"), "web v2 loaded");
  // The image's own WORKDIR and CMD were used.
  EXPECT_EQ(firstLine(cli({"exec", "loaded", "--", "pwd"}).out), "/www-root");

  // The same on h3, which has not loaded it: the pull fails, the task says so.
  auto elsewhere = cli({"run", "-d", "--network", "app", "--name", "notloaded", "--node", host(3),
                        "--image", "overmesh.test/web:2"});
  ASSERT_EQ(elsewhere.exitCode, 0) << elsewhere.out << elsewhere.err;
  EXPECT_TRUE(eventually(
      [&] {
        for (const auto& task : tasksOf("notloaded")) {
          if (task.value("state", "") == "failed" && !task.value("message", "").empty()) {
            return true;
          }
        }
        return false;
      },
      kPull))
      << cli({"ps"}).out;

  // Removed from h2 once no task uses it.
  ASSERT_EQ(cli({"rm", "-f", "loaded"}).exitCode, 0);
  EXPECT_TRUE(eventually(
      [&] {
        auto removed = cli({"image", "rm", "overmesh.test/web:2"}, 2);
        return removed.exitCode == 0;
      },
      seconds(30)));
  EXPECT_THAT(cli({"image", "ls"}, 2).out, ::testing::Not(HasSubstr("overmesh.test/web")));
}

TEST_F(ImagesTest, RegistryMirrorServesDockerHubNames) {
  auto mirror = cli({"swarm", "update", "--registry-mirror", "http://" + kRegistry});
  ASSERT_EQ(mirror.exitCode, 0) << mirror.out << mirror.err;
  // "web:1" is docker.io/library/web:1; the lab has no internet, only the mirror has it.
  auto created = cli({"service", "create", "-d", "--name", "hub", "--replicas", "3", "--network",
                      "app", "--image", "web:1"});
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  ASSERT_TRUE(waitRunning("hub", 3)) << servicePs("hub");
  for (const auto& task : runningTasks("hub")) {
    std::string name = task.value("name", "");
    EXPECT_THAT(imageOf(task), StartsWith("docker.io/library/web:1")) << name;
    EXPECT_EQ(page(name, "127.0.0.1"), "web v1 " + name) << name;
  }
  // The mirror list given alone kept the insecure registries: the mirror's plain HTTP
  // still works for a name of its own.
  auto own =
      cli({"service", "create", "-d", "--name", "own", "--network", "app", "--image", kWeb1});
  ASSERT_EQ(own.exitCode, 0) << own.out << own.err;
  EXPECT_TRUE(waitRunning("own", 1)) << servicePs("own");
}

// The lab's registry and test images on their own (they need no image support in
// overmesh): both versions pushed under several names, a re-tag, the registry stopped
// (refusing) and started again on the same blobs, and stop killing only its own process.
TEST(LabRegistry, ServesPushedImagesStopsAndComesBackWithTheSameBlobs) {
  if (!canUseNamespaces()) {
    GTEST_SKIP() << "needs root to create network namespaces";
  }
  if (auto missing = missingImageTools(); !missing.empty()) {
    GTEST_SKIP() << "needs " << missing << " (scripts/setup.sh installs them)";
  }
  const auto& images = TestImages::get();
  ASSERT_TRUE(images.error().empty()) << images.error();
  LabSession lab("ireg");
  ASSERT_TRUE(lab.up(1, "info", 1)) << lab.error();
  LabRegistry registry(lab);
  auto started = registry.start();
  ASSERT_EQ(started.exitCode, 0) << started.out << started.err;
  EXPECT_NE(registry.start().exitCode, 0) << "a second start is refused";

  ASSERT_EQ(registry.push(images.archive(1), {"web:1", "library/web:1"}).exitCode, 0);
  ASSERT_EQ(registry.push(images.archive(2), {"web:2"}).exitCode, 0);
  std::string v1 = registry.digest("web:1");
  std::string v2 = registry.digest("web:2");
  EXPECT_THAT(v1, StartsWith("sha256:"));
  EXPECT_THAT(v2, StartsWith("sha256:"));
  EXPECT_NE(v1, v2) << "the two versions are different images";
  EXPECT_EQ(registry.digest("library/web:1"), v1);
  EXPECT_EQ(registry.digest("nosuch:1"), "");

  // The image as pulled by a host: its config says what scripts/test-image.sh promises.
  auto config = lab.exec(1, {"skopeo", "inspect", "--tls-verify=false", "--config",
                             fmt::format("docker://{}/web:1", LabRegistry::kAddress)});
  ASSERT_EQ(config.exitCode, 0) << config.err;
  auto parsed = nlohmann::json::parse(config.out, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << config.out;
  EXPECT_EQ(parsed["config"].value("Cmd", nlohmann::json::array()),
            nlohmann::json::array({"/bin/serve"}));
  EXPECT_EQ(parsed["config"].value("WorkingDir", ""), "/www-root");
  EXPECT_EQ(parsed["config"].value("StopSignal", ""), "2") << "SIGINT";

  // A re-tag: web:1 names v2 now; v1 is still there by its digest.
  ASSERT_EQ(registry.push(images.archive(2), {"web:1"}).exitCode, 0);
  EXPECT_EQ(registry.digest("web:1"), v2);
  EXPECT_EQ(registry.digest("web@" + v1), v1);

  // Down: refused; up again: the same blobs.
  auto stopped = registry.stop();
  ASSERT_EQ(stopped.exitCode, 0) << stopped.err;
  EXPECT_THAT(stopped.out, HasSubstr("stopped registry"));
  EXPECT_EQ(registry.digest("web:2"), "");
  auto refused = lab.exec(
      1, {"curl", "-sS", "--max-time", "3", fmt::format("http://{}/v2/", LabRegistry::kAddress)});
  EXPECT_EQ(refused.exitCode, 7) << "curl: could not connect; " << refused.err;
  ASSERT_EQ(registry.start().exitCode, 0);
  EXPECT_EQ(registry.digest("web:2"), v2);
  EXPECT_EQ(registry.digest("web@" + v1), v1);

  // stop trusts its pid file only for the registry of this config.
  std::string pidFile = lab.runDir() + "/" + lab.name() + "/c1/registry-5000/registry.pid";
  std::string pid = firstLine(readFile(pidFile));
  auto bystander = runCommand({"/bin/sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"});
  std::string other = firstLine(bystander.out);
  ASSERT_FALSE(other.empty());
  ASSERT_EQ(runCommand({"/bin/sh", "-c", "echo " + other + " > " + pidFile}).exitCode, 0);
  auto notOurs = registry.stop();
  EXPECT_EQ(notOurs.exitCode, 0);
  EXPECT_THAT(notOurs.out, HasSubstr("no registry runs"));
  EXPECT_TRUE(processRuns(static_cast<pid_t>(std::atol(other.c_str()))));
  kill(static_cast<pid_t>(std::atol(other.c_str())), SIGKILL);
  ASSERT_EQ(runCommand({"/bin/sh", "-c", "echo " + pid + " > " + pidFile}).exitCode, 0);
  EXPECT_EQ(registry.stop().exitCode, 0);
  EXPECT_TRUE(eventually([&] { return !processRuns(static_cast<pid_t>(std::atol(pid.c_str()))); },
                         seconds(10)));
}

// What `lab down` ends besides the lab's namespaces (lab/lab_leftovers.h), as podman
// leaves things: a conmon naming the directory with a child that does not (its
// container), and a mount under the directory (an overlay layer).
TEST(SweepLeftovers, KillsConmonsNamingTheDirectoryWithTheirChildrenAndDetachesItsMounts) {
  if (!canUseNamespaces()) {
    GTEST_SKIP() << "needs root to mount";
  }
  TempDir dir;
  std::string mountPoint = dir.path() + "/layer";
  ASSERT_EQ(runCommand({"/bin/mkdir", "-p", mountPoint}).exitCode, 0);
  ASSERT_EQ(runCommand({"/bin/mount", "-t", "tmpfs", "none", mountPoint}).exitCode, 0);
  // sh names the directory in its arguments; its child `sleep` does not. Both pids are
  // written out (setsid: they outlive runCommand).
  // A shell copied as `conmon` (its process name) runs from the directory, so its command
  // line names it; its child `sleep` does not. Both pids are written out (setsid: they
  // outlive runCommand).
  std::string pids = dir.path() + "/pids";
  std::string conmon = dir.path() + "/conmon";
  ASSERT_EQ(runCommand({"/bin/cp", "/bin/sh", conmon}).exitCode, 0);
  auto started =
      runCommand({"/bin/sh", "-c",
                  "setsid " + conmon + " -c 'sleep 300 & echo $$ $! > \"$1\"; wait' sh " + pids +
                      " >/dev/null 2>&1 < /dev/null &"});
  ASSERT_EQ(started.exitCode, 0) << started.err;
  ASSERT_TRUE(eventually([&] { return nonEmptyLines(readFile(pids)).size() == 1; }, seconds(5)));
  std::istringstream fields(readFile(pids));
  pid_t parent = 0;
  pid_t child = 0;
  fields >> parent >> child;
  ASSERT_TRUE(processRuns(parent));
  ASSERT_TRUE(processRuns(child));
  // An unrelated process that does not name the directory is left alone.
  auto bystander = runCommand({"/bin/sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"});
  pid_t other = static_cast<pid_t>(std::atol(firstLine(bystander.out).c_str()));
  ASSERT_GT(other, 0);

  EXPECT_GE(lab::sweepContainersUnder(dir.path()), 2);
  EXPECT_TRUE(eventually([&] { return !processRuns(parent) && !processRuns(child); }, seconds(5)));
  EXPECT_TRUE(processRuns(other));
  kill(other, SIGKILL);
  EXPECT_THAT(readFile("/proc/self/mountinfo"), ::testing::Not(HasSubstr(mountPoint)));
}

}  // namespace
}  // namespace overmesh::testing
