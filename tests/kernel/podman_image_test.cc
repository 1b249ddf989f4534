// Kernel tier, issue 10: the node's supervised podman service, its image store and the
// image runtime's container fields, against Debian's podman 4.3 with runc. Everything
// runs under the test's scratch directory (storage, run, tmp, socket) and in a network
// namespace the test makes: the podman service is started from a thread inside it, and a
// real registry (Debian's docker-registry) listens there on 198.18.77.1. Skipped without
// root, podman, runc, busybox-static or docker-registry. TearDown stops the service and
// the registry, resets the storage, ends the conmons of our storage and deletes the
// namespace.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "dataplane/linux/netlink.h"
#include "dataplane/linux/netns.h"
#include "runtime/podman/image_runtime.h"
#include "runtime/podman/podman_client.h"
#include "runtime/podman/podman_image_store.h"
#include "runtime/podman/podman_service.h"
#include "runtime/podman/registries_conf.h"
#include "support/netns_process.h"
#include "support/process.h"

namespace overmesh::runtime::podman {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr const char* kRegistryAddress = "198.18.77.1";
constexpr const char* kRegistry = "198.18.77.1:5000";


// Whether the store has the image; false also when asking failed.
bool hasImage(PodmanImageStore& store, const std::string& reference) {
  auto has = store.has(reference);
  EXPECT_TRUE(has) << has.error().message;
  return has && *has;
}

class PodmanImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || !testing::toolInstalled("podman") || !testing::toolInstalled("runc") ||
        !fs::exists("/bin/busybox") || !testing::toolInstalled("docker-registry")) {
      GTEST_SKIP() << "needs root, podman, runc, busybox-static and docker-registry";
    }
    root_ = dir_.path();
    podmanDir_ = root_ + "/podman";
    namespace_ = "ompi" + std::to_string(getpid());
    ASSERT_TRUE(dataplane::kernel::createNamespace(namespace_)) << "create namespace";
    madeNamespace_ = true;
    // Tasks join a sandbox of their own, as on a node (runc refuses podman's default
    // sysctls in the network namespace podman itself runs in).
    sandbox_ = "omps" + std::to_string(getpid());
    ASSERT_TRUE(dataplane::kernel::createNamespace(sandbox_)) << "create sandbox namespace";
    madeSandbox_ = true;
    auto netlink = dataplane::kernel::Netlink::open(namespace_);
    ASSERT_TRUE(netlink) << netlink.error().message;
    ASSERT_TRUE(netlink->setUp("lo"));
    auto address = Ipv4Prefix::parse(std::string(kRegistryAddress) + "/32");
    ASSERT_TRUE(address);
    ASSERT_TRUE(netlink->addAddress("lo", *address));
    service_ = newService();
  }

  // A service that runs in the lab namespace (it starts where it was made).
  std::unique_ptr<PodmanService> newService() {
    std::unique_ptr<PodmanService> made;
    std::thread thread([&] {
      auto entered = dataplane::kernel::NamespaceSwitch::enter(namespace_);
      if (entered) {
        made = std::make_unique<PodmanService>(PodmanServiceOptions{.dir = podmanDir_});
      }
    });
    thread.join();
    EXPECT_TRUE(made) << "enter " << namespace_;
    return made;
  }

  void TearDown() override {
    if (root_.empty()) {
      return;
    }
    if (service_ && service_->pid() > 0) {
      if (auto client = PodmanClient::connect(service_->socketPath())) {
        for (const char* task : {"omimg1", "omimg2", "omimg3"}) {
          client->remove(task);
        }
      }
    }
    second_.reset();
    service_.reset();
    testing::stopSpawned(registry_);
    // Not `system reset`: it also removes the machine's own podman networks.
    testing::runCommand({"/bin/sh", "-c",
                         podmanCli() + " rm -af >/dev/null 2>&1; " + podmanCli() +
                             " rmi -af >/dev/null 2>&1; umount -l " + podmanDir_ +
                             "/storage/overlay 2>/dev/null"});
    for (pid_t pid : testing::pidsWhoseCommandLineHas(podmanDir_ + "/storage")) {
      kill(pid, SIGKILL);
    }
    if (madeNamespace_) {
      dataplane::kernel::deleteNamespace(namespace_);
    }
    if (madeSandbox_) {
      dataplane::kernel::deleteNamespace(sandbox_);
    }
  }

  // podman's command line on the service's storage (the same flags as the service).
  std::string podmanCli() const {
    return testing::joinedCommand(podmanArgv("podman", podmanDir_));
  }

  // From the test's own thread, in the machine's namespace: the service still starts
  // in the namespace it was made in.
  Status startService(PodmanService& service) { return service.ensureRunning(); }

  // localhost/ombb:1, a busybox image made offline, in the service's storage.
  void importBusybox() {
    fs::create_directories(root_ + "/rootfs/bin");
    fs::copy_file("/bin/busybox", root_ + "/rootfs/bin/busybox");
    for (const char* applet :
         {"sh", "hostname", "sleep", "cat", "id", "pwd", "touch", "echo", "ls", "tr"}) {
      fs::create_symlink("busybox", root_ + "/rootfs/bin/" + applet);
    }
    for (const char* dir : {"etc", "proc", "sys", "dev", "tmp", "srv"}) {
      fs::create_directories(root_ + "/rootfs/" + dir);
    }
    auto imported = testing::runCommand(
        {"/bin/sh", "-c",
         "tar -C " + root_ + "/rootfs -c . | " + podmanCli() +
             " import --change 'CMD [\"/bin/sh\"]' - localhost/ombb:1 >/dev/null"});
    ASSERT_EQ(imported.exitCode, 0) << imported.err;
  }

  // A registry in the lab namespace on 198.18.77.1:5000, answering /v2/.
  void startRegistry() {
    std::ofstream(root_ + "/registry.yml")
        << "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: " << root_
        << "/registry\nhttp:\n  addr: " << kRegistry << "\n";
    registry_ = testing::spawnInNetns(
        namespace_, {"/usr/bin/docker-registry", "serve", root_ + "/registry.yml"},
        root_ + "/registry.log");
    ASSERT_GT(registry_, 0);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto probe = testing::runInNetns(namespace_, {"/bin/busybox", "wget", "-q", "-O", "/dev/null",
                                                    std::string("http://") + kRegistry + "/v2/"});
      if (probe.exitCode == 0) {
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "the registry did not answer: " << testing::readFile(root_ + "/registry.log");
  }

  // Pushes localhost/ombb:1 to the lab registry as `name` (e.g. "web:1").
  void push(const std::string& name) {
    auto pushed = testing::runInNetns(
        namespace_,
        {"/bin/sh", "-c",
         podmanCli() + " push -q --tls-verify=false localhost/ombb:1 " + kRegistry + "/" + name});
    ASSERT_EQ(pushed.exitCode, 0) << pushed.err;
  }

  Status configure(const api::RegistrySettings& settings) {
    auto text = registriesConf(settings);
    if (!text) {
      return std::unexpected(text.error());
    }
    return service_->configure(*text);
  }

  TaskSpec taskSpec(const std::string& id) {
    TaskSpec spec;
    spec.taskId = id;
    spec.hostname = id;
    spec.image = "localhost/ombb:1";
    spec.netnsPath = dataplane::kernel::namespacePath(sandbox_);
    spec.hostsFile = "127.0.0.1 localhost\n";
    spec.resolvConf = "nameserver 127.0.0.11\n";
    return spec;
  }

  // The task's output once it holds `text` (at most 20 s).
  std::string waitForLogs(ImageRuntime& runtime, const std::string& taskId,
                          const std::string& text) {
    std::string logs;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto got = runtime.logs(taskId, 1 << 16);
      if (got) {
        logs = *got;
        if (logs.find(text) != std::string::npos) {
          break;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    return logs;
  }

  testing::TempDir dir_;
  std::string root_;
  std::string podmanDir_;
  std::string namespace_;
  bool madeNamespace_ = false;
  std::string sandbox_;
  bool madeSandbox_ = false;
  pid_t registry_ = -1;
  std::unique_ptr<PodmanService> service_;
  std::unique_ptr<PodmanService> second_;
};

TEST_F(PodmanImageTest, TheServiceStartsLazilyRestartsAfterAKillAndSurvivesConfigure) {
  ImageRuntime runtime(*service_, root_ + "/containers", "node-a");
  PodmanImageStore store(*service_);
  auto listed = runtime.list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_TRUE(listed->empty());
  auto images = store.list();
  ASSERT_TRUE(images) << images.error().message;
  EXPECT_TRUE(images->empty());
  EXPECT_EQ(service_->pid(), 0) << "listing nothing started podman";
  EXPECT_FALSE(fs::exists(podmanDir_ + "/storage"));

  ASSERT_TRUE(startService(*service_));
  pid_t first = service_->pid();
  ASSERT_GT(first, 0);
  auto serviceNamespace =
      dataplane::kernel::namespaceIdOf("/proc/" + std::to_string(first) + "/ns/net");
  auto labNamespace =
      dataplane::kernel::namespaceIdOf(dataplane::kernel::namespacePath(namespace_));
  ASSERT_TRUE(serviceNamespace && labNamespace);
  EXPECT_EQ(*serviceNamespace, *labNamespace) << "it runs where the service object was made";
  EXPECT_EQ(testing::readFile(podmanDir_ + "/podman.pid"), std::to_string(first) + "\n");
  ASSERT_TRUE(PodmanClient::connect(service_->socketPath())->ping());

  // Killed: the next need starts it again.
  kill(first, SIGKILL);
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(startService(*service_));
  pid_t second = service_->pid();
  EXPECT_NE(second, first);
  ASSERT_TRUE(PodmanClient::connect(service_->socketPath())->ping());

  // A container keeps running while new registry settings restart the service.
  importBusybox();
  TaskSpec spec = taskSpec("omimg1");
  spec.command = {"sleep", "60"};
  auto started = runtime.start(spec);
  ASSERT_TRUE(started) << started.error().message;
  ASSERT_TRUE(configure({{kRegistry}, {}}));
  pid_t third = service_->pid();
  EXPECT_NE(third, second) << "changed settings restart the service";
  EXPECT_THAT(testing::readFile(podmanDir_ + "/registries.conf"), HasSubstr(kRegistry));
  auto after = runtime.status("omimg1");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->state, TaskState::Running);
  EXPECT_EQ(after->pid, started->pid) << "the container was not restarted";
  ASSERT_TRUE(configure({{kRegistry}, {}}));
  EXPECT_EQ(service_->pid(), third) << "unchanged settings leave it alone";
  auto ours = runtime.list();
  ASSERT_TRUE(ours) << ours.error().message;
  EXPECT_EQ(*ours, std::vector<std::string>{"omimg1"});
  ImageRuntime otherNode(*service_, root_ + "/containers-b", "node-b");
  auto theirs = otherNode.list();
  ASSERT_TRUE(theirs) << theirs.error().message;
  EXPECT_TRUE(theirs->empty()) << "another node's label sees none of ours";

  // A daemon restarted after kill -9 ends the service its predecessor left on our socket.
  second_ = newService();
  ASSERT_TRUE(second_->ensureRunning()) << "from any thread";
  EXPECT_NE(second_->pid(), third);
  EXPECT_EQ(waitpid(third, nullptr, WNOHANG), third) << "the stale service ended";
  ASSERT_TRUE(runtime.remove("omimg1"));
}

TEST_F(PodmanImageTest, TheStoreLoadsListsAndRemovesADockerArchive) {
  PodmanImageStore store(*service_);
  importBusybox();
  std::string archive = root_ + "/ombb.tar";
  auto saved = testing::runCommand({"/bin/sh", "-c",
                                    podmanCli() + " save -q --format docker-archive -o " + archive +
                                        " localhost/ombb:1 && " + podmanCli() +
                                        " rmi localhost/ombb:1 >/dev/null"});
  ASSERT_EQ(saved.exitCode, 0) << saved.err;
  ASSERT_TRUE(startService(*service_));
  EXPECT_FALSE(hasImage(store, "localhost/ombb:1"));

  auto loaded = store.load(archive);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_THAT(*loaded, Contains("localhost/ombb:1"));
  EXPECT_TRUE(hasImage(store, "localhost/ombb:1"));
  auto images = store.list();
  ASSERT_TRUE(images) << images.error().message;
  ASSERT_EQ(images->size(), 1u);
  EXPECT_THAT((*images)[0].names, Contains("localhost/ombb:1"));
  EXPECT_GT((*images)[0].sizeBytes, 0);

  ASSERT_TRUE(store.remove("localhost/ombb:1", false));
  EXPECT_FALSE(hasImage(store, "localhost/ombb:1"));
  auto again = store.remove("localhost/ombb:1", false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::NotFound);

  auto missing = store.load(root_ + "/nosuch.tar");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::InvalidArgument);
  std::ofstream(root_ + "/garbage.tar") << "not an archive";
  auto garbage = store.load(root_ + "/garbage.tar");
  ASSERT_FALSE(garbage);
  EXPECT_THAT(garbage.error().message, HasSubstr("garbage.tar"));
}

TEST_F(PodmanImageTest, PullsFromARegistryWithProgressByTagByDigestAndThroughAMirror) {
  importBusybox();
  startRegistry();
  push("web:1");
  push("library/ombb:2");
  ASSERT_TRUE(configure({{kRegistry}, {}}));
  ASSERT_TRUE(startService(*service_));
  PodmanImageStore store(*service_);

  std::vector<std::string> progress;
  auto pulled = store.pull(std::string(kRegistry) + "/web:1",
                           [&](const std::string& summary) { progress.push_back(summary); });
  ASSERT_TRUE(pulled) << pulled.error().message;
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), "done");
  EXPECT_TRUE(hasImage(store, std::string(kRegistry) + "/web:1"));

  // By digest (a pinned record holds tag and digest; the digest is what is pulled).
  // The digest as the registry names it (what the manager pins).
  auto inspected = testing::runInNetns(
      namespace_, {"/usr/bin/skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                   std::string("docker://") + kRegistry + "/web:1"});
  ASSERT_EQ(inspected.exitCode, 0) << inspected.err;
  std::string digest = inspected.out.substr(0, inspected.out.find('\n'));
  ASSERT_FALSE(digest.empty());
  ASSERT_TRUE(store.remove(std::string(kRegistry) + "/web:1", true));
  std::string pinned = std::string(kRegistry) + "/web:1@" + digest;
  auto byDigest = store.pull(pinned, nullptr);
  ASSERT_TRUE(byDigest) << byDigest.error().message;
  EXPECT_TRUE(hasImage(store, pinned));

  // docker.io names through the cluster's mirror (no internet here).
  ASSERT_TRUE(configure({{kRegistry}, {std::string("http://") + kRegistry}}));
  auto mirrored = store.pull("ombb:2", nullptr);
  ASSERT_TRUE(mirrored) << mirrored.error().message;
  EXPECT_TRUE(hasImage(store, "docker.io/library/ombb:2"));
}

TEST_F(PodmanImageTest, PullFailuresCarryTheRegistrysWords) {
  importBusybox();
  startRegistry();
  push("web:1");
  ASSERT_TRUE(configure({{kRegistry, "198.18.77.1:5001"}, {}}));
  ASSERT_TRUE(startService(*service_));
  PodmanImageStore store(*service_);

  auto missingTag = store.pull(std::string(kRegistry) + "/web:nosuch", nullptr);
  ASSERT_FALSE(missingTag);
  EXPECT_EQ(missingTag.error().kind, ErrorKind::NotFound) << missingTag.error().message;
  EXPECT_THAT(missingTag.error().message, HasSubstr("manifest unknown"));

  auto dead = store.pull("198.18.77.1:5001/web:1", nullptr);
  ASSERT_FALSE(dead);
  EXPECT_EQ(dead.error().kind, ErrorKind::Unavailable) << dead.error().message;
  EXPECT_THAT(dead.error().message, HasSubstr("connection refused"));

  auto bad = store.pull("Not A Reference", nullptr);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
}

TEST_F(PodmanImageTest, ImageRuntimeAppliesTheContainerFields) {
  importBusybox();
  ASSERT_TRUE(startService(*service_));
  ImageRuntime runtime(*service_, root_ + "/containers", "node-a");

  TaskSpec spec = taskSpec("omimg1");
  spec.entrypoint = {"/bin/sh", "-c"};
  spec.command = {
      "echo \"dir=$(pwd) user=$(id -u):$(id -g)\"; "
      "touch /rootfile 2>/dev/null && echo rw || echo ro; "
      "echo kept > /data/file; "
      "echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); sleep 60"};
  spec.workdir = "/srv";
  spec.user = "1234:2345";
  spec.readOnly = true;
  spec.init = true;
  spec.mounts = {{"volume", "omvol" + std::to_string(getpid()), "/data", false}};
  // The volume must be writable by the task's user: a bind mount would need chown; a
  // fresh named volume is root's, so this task writes as root in a second container.
  spec.user = "";
  // Compose labels go on the container; overmesh's own label cannot be overridden by one.
  spec.labels = {{"com.docker.stack.namespace", "omstack"}, {"overmesh.task", "spoofed"}};
  auto started = runtime.start(spec);
  ASSERT_TRUE(started) << started.error().message;
  auto labelled = PodmanClient::connect(service_->socketPath())
                      ->listByLabel("com.docker.stack.namespace", "omstack");
  ASSERT_TRUE(labelled) << labelled.error().message;
  EXPECT_THAT(*labelled, ::testing::ElementsAre("omimg1"));
  auto ours = runtime.list();
  ASSERT_TRUE(ours) << ours.error().message;
  EXPECT_THAT(*ours, ::testing::Contains("omimg1")) << "overmesh.task=node-a wins";
  std::string logs = waitForLogs(runtime, "omimg1", "pid1=");
  EXPECT_THAT(logs, HasSubstr("dir=/srv user=0:0"));
  EXPECT_THAT(logs, HasSubstr("ro\n")) << "the root file system is read-only";
  EXPECT_THAT(logs, HasSubstr("pid1=/run/podman-init")) << "catatonit is PID 1";
  PodmanImageStore store(*service_);
  auto inUse = store.remove("localhost/ombb:1", false);
  ASSERT_FALSE(inUse) << "a running task's image is not removed without force";
  EXPECT_EQ(inUse.error().kind, ErrorKind::FailedPrecondition) << inUse.error().message;

  TaskSpec other = taskSpec("omimg2");
  other.command = {"sh", "-c", "id -u; id -g; cat /data/file; sleep 60"};
  other.user = "1234:2345";
  other.mounts = {{"volume", spec.mounts[0].source, "/data", true}};
  auto second = runtime.start(other);
  ASSERT_TRUE(second) << second.error().message;
  std::string otherLogs = waitForLogs(runtime, "omimg2", "kept");
  EXPECT_EQ(otherLogs, "1234\n2345\nkept\n") << "user and the named volume's content";

  // The stop signal: the task traps SIGUSR1 and exits 7 well within the grace.
  TaskSpec stoppable = taskSpec("omimg3");
  stoppable.command = {"sh", "-c",
                       "trap 'echo got usr1; exit 7' USR1; echo ready; "
                       "while true; do sleep 0.1; done"};
  stoppable.stopSignal = "SIGUSR1";
  auto third = runtime.start(stoppable);
  ASSERT_TRUE(third) << third.error().message;
  ASSERT_THAT(waitForLogs(runtime, "omimg3", "ready"), HasSubstr("ready"));
  auto before = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime.stop("omimg3", 10s));
  EXPECT_LT(std::chrono::steady_clock::now() - before, 8s) << "not killed at the grace";
  auto status = runtime.status("omimg3");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, TaskState::Exited);
  EXPECT_EQ(status->exitCode, 7);
  EXPECT_THAT(runtime.logs("omimg3", 1 << 16).value_or(""), HasSubstr("got usr1"));

  auto bad = runtime.start([&] {
    TaskSpec wrong = taskSpec("omimg4");
    wrong.stopSignal = "SIGNOPE";
    return wrong;
  }());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
  EXPECT_THAT(bad.error().message, HasSubstr("SIGNOPE"));

  for (const char* task : {"omimg1", "omimg2", "omimg3"}) {
    EXPECT_TRUE(runtime.remove(task));
  }
}

}  // namespace
}  // namespace overmesh::runtime::podman
