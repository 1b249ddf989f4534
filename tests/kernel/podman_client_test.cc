// Kernel tier: the podman client against a real `podman system service` (Debian's
// podman 4.3 with runc), storage and run directories in the test's own scratch
// directory, and a busybox image imported from a root file system made of the
// busybox-static binary (no registry). A container joins a network namespace the test
// made, as an image task joins its sandbox, with the node's container limits. Skipped
// without root, podman, runc or /bin/busybox. Everything is removed in TearDown.

#include "runtime/podman/podman_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/linux/netns.h"
#include "runtime/podman/image_runtime.h"
#include "runtime/podman/podman_service.h"
#include "support/process.h"

namespace overmesh::runtime::podman {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;


class PodmanClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || !testing::toolInstalled("podman") || !testing::toolInstalled("runc") || !fs::exists("/bin/busybox")) {
      GTEST_SKIP() << "needs root, podman, runc and busybox-static";
    }
    root_ = dir_.path();
    namespace_ = "ompm" + std::to_string(getpid());
    ASSERT_TRUE(dataplane::kernel::createNamespace(namespace_)) << "create namespace";
    madeNamespace_ = true;
    // A busybox image: /bin/busybox and a few applet links.
    fs::create_directories(root_ + "/rootfs/bin");
    fs::copy_file("/bin/busybox", root_ + "/rootfs/bin/busybox");
    for (const char* applet : {"sh", "hostname", "ip", "sleep", "cat"}) {
      fs::create_symlink("busybox", root_ + "/rootfs/bin/" + applet);
    }
    for (const char* dir : {"etc", "proc", "sys", "dev", "tmp"}) {
      fs::create_directories(root_ + "/rootfs/" + dir);
    }
    auto imported =
        testing::runCommand({"/bin/sh", "-c",
                             "tar -C " + root_ + "/rootfs -c . | " + podman() +
                                 " import --change 'CMD [\"/bin/sh\"]' - localhost/ombb:1"});
    ASSERT_EQ(imported.exitCode, 0) << imported.err;
    startService();
  }

  void TearDown() override {
    if (client_) {
      client_->remove("omtest1");
      client_->remove("omtask1");
    }
    service_.reset();
    if (!root_.empty()) {
      // Not `system reset`: it also removes the machine's own podman networks.
      testing::runCommand({"/bin/sh", "-c",
                           podman() + " rm -af >/dev/null 2>&1; " + podman() +
                               " rmi -af >/dev/null 2>&1; umount -l " + root_ +
                               "/storage/overlay 2>/dev/null"});
      // conmon keeps an exec session's process around for 300 s after the exec ended
      // (podman's --exit-delay); these are ours: their command line names our storage.
      for (pid_t pid : testing::pidsWhoseCommandLineHas(root_ + "/storage")) {
        kill(pid, SIGKILL);
      }
    }
    if (madeNamespace_) {
      dataplane::kernel::deleteNamespace(namespace_);
    }
  }

  // podman's command line with the service's flags (storage, run and tmp directories).
  std::string podman() const { return testing::joinedCommand(podmanArgv("podman", root_)); }

  // The service as a node runs it (podman_service.h), on <root>/podman.sock.
  void startService() {
    service_ = std::make_unique<PodmanService>(PodmanServiceOptions{.dir = root_});
    auto running = service_->ensureRunning();
    ASSERT_TRUE(running) << running.error().message;
    auto client = PodmanClient::connect(service_->socketPath());
    ASSERT_TRUE(client) << client.error().message;
    client_ = std::move(*client);
    ASSERT_TRUE(client_->ping()) << "podman system service did not answer";
  }

  testing::TempDir dir_;
  std::string root_;
  std::string namespace_;
  bool madeNamespace_ = false;
  std::unique_ptr<PodmanService> service_;
  std::optional<PodmanClient> client_;
};

TEST_F(PodmanClientTest, AContainerJoinsTheSandboxWithItsHostnameEnvAndLimits) {
  auto limits = containerLimitsOfThisProcess();
  ASSERT_TRUE(limits) << limits.error().message;
  std::string hosts = root_ + "/hosts";
  std::ofstream(hosts) << "127.0.0.1 localhost\n10.0.15.2 web.1\n";

  ContainerSpec spec;
  spec.name = "omtest1";
  spec.image = "localhost/ombb:1";
  spec.hostname = "web.1.omtest1";
  spec.command = {"sh", "-c",
                  "hostname; echo $GREETING; cat /etc/hosts; ulimit -n; ulimit -u; sleep 30"};
  spec.env = {"GREETING=hello"};
  spec.netnsPath = dataplane::kernel::namespacePath(namespace_);
  spec.limits = *limits;
  spec.mounts = {{hosts, "/etc/hosts", true}};
  auto created = client_->create(spec);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_TRUE(client_->start("omtest1"));

  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto logs = client_->logs("omtest1", 1 << 16);
    ASSERT_TRUE(logs) << logs.error().message;
    out = logs->out;
    if (out.find(std::to_string(limits->nproc)) != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(out.find("web.1.omtest1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("hello\n"), std::string::npos) << out;
  EXPECT_NE(out.find("10.0.15.2 web.1"), std::string::npos) << out;
  EXPECT_NE(out.find(std::to_string(limits->nofile) + "\n"), std::string::npos) << out;

  auto state = client_->inspect("omtest1");
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_EQ(state->status, "running");
  EXPECT_GT(state->conmonPid, 0);
  // The container's network namespace is the sandbox's.
  auto sandboxId = dataplane::kernel::namespaceIdOf(spec.netnsPath);
  auto containerId =
      dataplane::kernel::namespaceIdOf("/proc/" + std::to_string(state->pid) + "/ns/net");
  ASSERT_TRUE(sandboxId && containerId);
  EXPECT_EQ(*sandboxId, *containerId);

  ASSERT_TRUE(client_->stop("omtest1", 1s));
  auto stopped = client_->inspect("omtest1");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, "exited");
  ASSERT_TRUE(client_->remove("omtest1"));
  auto gone = client_->inspect("omtest1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(client_->remove("omtest1")) << "removing what is gone succeeds";
}

TEST_F(PodmanClientTest, AnUnknownImageIsNotFoundAndNamesIt) {
  ContainerSpec spec;
  spec.name = "omtest1";
  spec.image = "localhost/nosuch:1";
  spec.netnsPath = dataplane::kernel::namespacePath(namespace_);
  spec.limits = {1024, 1000};
  auto created = client_->create(spec);
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find("nosuch"), std::string::npos) << created.error().message;
}

// The TaskRuntime over podman, as the agent uses it.
TEST_F(PodmanClientTest, ImageRuntimeRunsExecsStopsListsAndRemovesATask) {
  ImageRuntime runtime(*service_, root_ + "/tasks", "node-test");
  TaskSpec spec;
  spec.taskId = "omtask1";
  spec.hostname = "web.1.omtask1";
  spec.image = "localhost/ombb:1";
  spec.command = {"sh", "-c", "echo started; sleep 30"};
  spec.netnsPath = dataplane::kernel::namespacePath(namespace_);
  spec.hostsFile = "127.0.0.1 localhost\n";
  spec.resolvConf = "nameserver 127.0.0.11\noptions ndots:0\n";
  auto started = runtime.start(spec);
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_EQ(started->state, TaskState::Running);
  EXPECT_GT(started->pid, 0);

  auto listed = runtime.list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(*listed, std::vector<std::string>{"omtask1"});

  auto hostname = runtime.exec("omtask1", {"hostname"}, 10s);
  ASSERT_TRUE(hostname) << hostname.error().message;
  EXPECT_EQ(hostname->out, "web.1.omtask1\n");
  EXPECT_EQ(hostname->exitCode, 0);
  auto resolv = runtime.exec("omtask1", {"cat", "/etc/resolv.conf"}, 10s);
  ASSERT_TRUE(resolv);
  EXPECT_EQ(resolv->out, spec.resolvConf);
  auto failed = runtime.exec("omtask1", {"sh", "-c", "echo err >&2; exit 3"}, 10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->exitCode, 3);
  EXPECT_EQ(failed->err, "err\n");
  auto slow = runtime.exec("omtask1", {"sleep", "20"}, 500ms);
  ASSERT_TRUE(slow) << slow.error().message;
  EXPECT_TRUE(slow->timedOut);
  EXPECT_EQ(slow->exitCode, 124);

  auto logs = runtime.logs("omtask1", 1 << 16);
  ASSERT_TRUE(logs);
  EXPECT_EQ(*logs, "started\n");

  ASSERT_TRUE(runtime.stop("omtask1", 1s));
  auto stopped = runtime.status("omtask1");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->state, TaskState::Exited);
  ASSERT_TRUE(runtime.remove("omtask1"));
  auto gone = runtime.status("omtask1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::NotFound);
  EXPECT_TRUE(runtime.list()->empty());
  EXPECT_FALSE(fs::exists(root_ + "/tasks/omtask1")) << "its files are removed";
}

}  // namespace
}  // namespace overmesh::runtime::podman
