// Kernel tier: the process runtime against the real kernel. Each test makes its own
// network namespace ("omrt<pid>-<n>") and state directory, removes every task it started
// and deletes the namespace in TearDown, also when it fails. Tasks use /bin/sh and
// coreutils only. The shim is the built overmeshd (`overmeshd shim ...`).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/linux/netns.h"
#include "runtime/process_runtime.h"
#include "runtime/task_files.h"
#include "support/process.h"

namespace overmesh::runtime {
namespace {

using namespace std::chrono_literals;
using dataplane::kernel::createNamespace;
using dataplane::kernel::deleteNamespace;
using dataplane::kernel::namespaceIdOf;
using dataplane::kernel::namespacePath;
using ::overmesh::testing::readFile;

constexpr const char* kHosts = "127.0.0.1\tlocalhost\n10.0.15.2\tweb1\n";
constexpr const char* kResolvConf = "nameserver 127.0.0.11\noptions ndots:0\n";

// The error kind of a result, or nullopt when it succeeded.
template <typename T>
std::optional<ErrorKind> kindOf(const Result<T>& result) {
  return result ? std::nullopt : std::optional(result.error().kind);
}

// Pids of the processes whose command line mentions `text` (the shim's names its task
// directory), zombies excluded (their command line is empty).
std::vector<pid_t> processesMentioning(const std::string& text) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::string cmdline = readFile(entry.path().string() + "/cmdline");
    if (cmdline.find(text) != std::string::npos) {
      found.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return found;
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!overmesh::testing::canUseNamespaces()) {
      GTEST_SKIP() << "needs root to create namespaces";
    }
    static int counter = 0;
    netns_ = fmt::format("omrt{}-{}", getpid(), ++counter);
    ASSERT_TRUE(createNamespace(netns_)) << netns_;
    ASSERT_FALSE(stateDir_.path().empty());
    runtime_ = makeRuntime();
  }

  void TearDown() override {
    if (netns_.empty()) {
      return;
    }
    if (!runtime_) {
      runtime_ = makeRuntime();
    }
    for (const auto& id : started_) {
      auto removed = runtime_->remove(id);
      EXPECT_TRUE(removed) << removed.error().message;
    }
    runtime_.reset();
    EXPECT_TRUE(deleteNamespace(netns_)) << netns_;
  }

  std::unique_ptr<ProcessRuntime> makeRuntime() {
    return std::make_unique<ProcessRuntime>(stateDir_.path(),
                                            overmesh::testing::binaryPath("overmeshd"));
  }

  TaskSpec spec(const std::string& id, std::vector<std::string> command) {
    TaskSpec spec;
    spec.taskId = id;
    spec.hostname = "web1";
    spec.command = std::move(command);
    spec.env = {"GREETING=hello"};
    spec.netnsPath = namespacePath(netns_);
    spec.hostsFile = kHosts;
    spec.resolvConf = kResolvConf;
    return spec;
  }

  // Starts the task and remembers it for TearDown.
  TaskStatus start(const TaskSpec& spec) {
    started_.push_back(spec.taskId);
    auto status = runtime_->start(spec);
    EXPECT_TRUE(status) << status.error().message;
    return status.value_or(TaskStatus{});
  }

  TaskStatus startShell(const std::string& id, const std::string& script) {
    return start(spec(id, {"/bin/sh", "-c", script}));
  }

  std::optional<TaskState> stateOf(const std::string& id) {
    auto status = runtime_->status(id);
    EXPECT_TRUE(status) << status.error().message;
    return status ? std::optional(status->state) : std::nullopt;
  }

  ExecResult exec(const std::string& id, std::vector<std::string> argv) {
    auto result = runtime_->exec(id, argv, 10s);
    EXPECT_TRUE(result) << result.error().message;
    return result.value_or(ExecResult{-1, "", "", false});
  }

  // Polls status() until the task exited (up to `timeout`).
  TaskStatus waitForExit(const std::string& id, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto status = runtime_->status(id);
      EXPECT_TRUE(status) << status.error().message;
      if (!status || status->state == TaskState::Exited ||
          std::chrono::steady_clock::now() > deadline) {
        return status.value_or(TaskStatus{});
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  // Polls logs() until they contain `text` (up to 10 s).
  std::string waitForLog(const std::string& id, const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (true) {
      auto logs = runtime_->logs(id, 1 << 20);
      EXPECT_TRUE(logs) << logs.error().message;
      if (!logs || logs->find(text) != std::string::npos ||
          std::chrono::steady_clock::now() > deadline) {
        return logs.value_or("");
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  std::string netns_;
  overmesh::testing::TempDir stateDir_;
  std::unique_ptr<ProcessRuntime> runtime_;
  std::vector<std::string> started_;
};

TEST_F(RuntimeTest, StartReturnsARunningTaskWithItsPid) {
  auto started = start(spec("t1", {"sleep", "1000"}));
  EXPECT_EQ(started.state, TaskState::Running);
  EXPECT_GT(started.pid, 1);
  auto status = runtime_->status("t1");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->state, TaskState::Running);
  EXPECT_EQ(status->pid, started.pid);
}

TEST_F(RuntimeTest, HostnameIsTheTaskName) {
  start(spec("t1", {"sleep", "1000"}));
  auto result = exec("t1", {"uname", "-n"});
  EXPECT_EQ(result.exitCode, 0);
  EXPECT_EQ(result.out, "web1\n");
  char ours[256] = {};
  gethostname(ours, sizeof(ours) - 1);
  EXPECT_NE(std::string(ours), "web1") << "the host's name changed";
}

TEST_F(RuntimeTest, EtcFilesAreTheTasksOwnAndTheHostsAreUntouched) {
  std::string hostHosts = readFile("/etc/hosts");
  std::string hostHostname = readFile("/etc/hostname");
  std::string hostResolvConf = readFile("/etc/resolv.conf");
  start(spec("t1", {"sleep", "1000"}));

  EXPECT_EQ(exec("t1", {"cat", "/etc/hosts"}).out, kHosts);
  EXPECT_EQ(exec("t1", {"cat", "/etc/hostname"}).out, "web1\n");
  EXPECT_EQ(exec("t1", {"cat", "/etc/resolv.conf"}).out, kResolvConf);

  EXPECT_EQ(readFile("/etc/hosts"), hostHosts);
  EXPECT_EQ(readFile("/etc/hostname"), hostHostname);
  EXPECT_EQ(readFile("/etc/resolv.conf"), hostResolvConf);
  // None of the task's mounts propagated to ours.
  EXPECT_EQ(readFile("/proc/self/mountinfo").find(stateDir_.path()), std::string::npos);
}

TEST_F(RuntimeTest, TaskDoesNotPinANetworkNamespaceDeletedLater) {
  std::string other = netns_ + "x";
  ASSERT_TRUE(createNamespace(other)) << other;
  start(spec("t1", {"sleep", "1000"}));
  auto seen = exec("t1", {"cat", "/proc/self/mountinfo"});
  bool copied = seen.out.find(namespacePath(other)) != std::string::npos;
  EXPECT_TRUE(deleteNamespace(other)) << other;
  // Its copy of the namespace's mount went with ours (mount propagation, and the kernel
  // detaches mounts on an unlinked file in every mount namespace).
  EXPECT_TRUE(copied) << seen.out;
  auto after = exec("t1", {"cat", "/proc/self/mountinfo"});
  EXPECT_EQ(after.out.find(namespacePath(other)), std::string::npos) << after.out;
}

TEST_F(RuntimeTest, TaskIsPidOneOfItsPidNamespace) {
  startShell("t1", "echo pid=$$; exec sleep 1000");
  EXPECT_NE(waitForLog("t1", "pid=").find("pid=1\n"), std::string::npos);
  // Its /proc is its PID namespace's: PID 1 there is the task itself.
  auto exe = exec("t1", {"readlink", "/proc/1/exe"});
  EXPECT_NE(exe.out.find("sleep"), std::string::npos) << exe.out;
}

TEST_F(RuntimeTest, TaskRunsInTheGivenNetworkNamespace) {
  auto started = start(spec("t1", {"sleep", "1000"}));
  auto expected = namespaceIdOf(namespacePath(netns_));
  ASSERT_TRUE(expected) << expected.error().message;
  auto actual = namespaceIdOf(fmt::format("/proc/{}/ns/net", started.pid));
  ASSERT_TRUE(actual) << actual.error().message;
  EXPECT_EQ(actual->inode, expected->inode);
  EXPECT_EQ(actual->device, expected->device);
}

TEST_F(RuntimeTest, ExecRunsInsideTheTasksNamespaces) {
  start(spec("t1", {"sleep", "1000"}));
  auto expected = namespaceIdOf(namespacePath(netns_));
  ASSERT_TRUE(expected) << expected.error().message;
  auto net = exec("t1", {"readlink", "/proc/self/ns/net"});
  EXPECT_EQ(net.out, fmt::format("net:[{}]\n", expected->inode));
  EXPECT_EQ(exec("t1", {"uname", "-n"}).out, "web1\n");
  // Its /sys is of the task's network namespace, which has only lo so far.
  EXPECT_EQ(exec("t1", {"ls", "/sys/class/net"}).out, "lo\n");
  // In the task's PID namespace: it sees the task as PID 1 and itself as a small pid.
  auto pids = exec("t1", {"sh", "-c", "echo $$; cat /proc/1/comm"});
  std::istringstream lines(pids.out);
  int ownPid = 0;
  std::string firstComm;
  lines >> ownPid >> firstComm;
  EXPECT_GT(ownPid, 1);
  EXPECT_LT(ownPid, 100);
  EXPECT_EQ(firstComm, "sleep");
}

TEST_F(RuntimeTest, ExecReturnsExitCodeAndOutput) {
  start(spec("t1", {"sleep", "1000"}));
  auto result = exec("t1", {"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(result.exitCode, 3);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
  EXPECT_FALSE(result.timedOut);
}

TEST_F(RuntimeTest, ExecUsesTheTasksEnvironment) {
  setenv("OVERMESH_RUNTIME_TEST_LEAK", "1", 1);
  start(spec("t1", {"sleep", "1000"}));
  auto result = exec("t1", {"env"});
  unsetenv("OVERMESH_RUNTIME_TEST_LEAK");
  EXPECT_NE(result.out.find("GREETING=hello\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("PATH=/"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("OVERMESH_RUNTIME_TEST_LEAK"), std::string::npos) << result.out;
}

TEST_F(RuntimeTest, ExecKillsACommandAtTheTimeout) {
  start(spec("t1", {"sleep", "1000"}));
  auto begin = std::chrono::steady_clock::now();
  auto result = runtime_->exec("t1", {"sh", "-c", "echo before; sleep 30"}, 300ms);
  auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->timedOut);
  EXPECT_EQ(result->exitCode, 124);
  EXPECT_EQ(result->out, "before\n");
  EXPECT_LT(took, 5s);
  // The sleep (in the command's process group) died with it: only the task's own sleep
  // still runs in its PID namespace. (The killed one may linger as a zombie: the task,
  // PID 1 there, does not reap orphans, as with `docker run` without --init.)
  auto left = exec("t1", {"sh", "-c", "cat /proc/[0-9]*/stat | grep -c '(sleep) [^Z]'"});
  EXPECT_EQ(left.out, "1\n");
}

// A daemon that stops or leaves the swarm cancels the execs in progress: one without a
// time limit must end (its command killed with its process group), and later ones fail.
TEST_F(RuntimeTest, CancelledExecsEndAndLaterOnesFailAtOnce) {
  start(spec("t1", {"sleep", "1000"}));
  Result<ExecResult> result;
  std::thread execer(
      [&] { result = runtime_->exec("t1", {"sh", "-c", "echo before; sleep 3600"}, 24h); });
  std::this_thread::sleep_for(500ms);
  runtime_->cancelExecs();
  execer.join();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Unavailable);
  EXPECT_NE(result.error().message.find("was stopped"), std::string::npos)
      << result.error().message;
  auto later = runtime_->exec("t1", {"true"}, 10s);
  ASSERT_FALSE(later);
  EXPECT_NE(later.error().message.find("was stopped"), std::string::npos)
      << later.error().message;
}

TEST_F(RuntimeTest, ExecOfAMissingCommandFailsNamingIt) {
  start(spec("t1", {"sleep", "1000"}));
  auto result = runtime_->exec("t1", {"no-such-command-om"}, 10s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("no-such-command-om"), std::string::npos)
      << result.error().message;
}

TEST_F(RuntimeTest, ExecInAnExitedTaskFails) {
  startShell("t1", "exit 0");
  waitForExit("t1");
  auto result = runtime_->exec("t1", {"true"}, 10s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::FailedPrecondition);
}

TEST_F(RuntimeTest, LogsCaptureStdoutAndStderr) {
  startShell("t1", "echo to-out; echo to-err >&2; echo $GREETING");
  auto status = waitForExit("t1");
  EXPECT_EQ(status.state, TaskState::Exited);
  auto logs = runtime_->logs("t1", 1 << 20);
  ASSERT_TRUE(logs) << logs.error().message;
  EXPECT_NE(logs->find("to-out\n"), std::string::npos) << *logs;
  EXPECT_NE(logs->find("to-err\n"), std::string::npos) << *logs;
  EXPECT_NE(logs->find("hello\n"), std::string::npos) << *logs;
  auto tail = runtime_->logs("t1", 6);
  ASSERT_TRUE(tail) << tail.error().message;
  EXPECT_EQ(*tail, "hello\n");
}

TEST_F(RuntimeTest, StatusAfterExitGivesTheExitCode) {
  startShell("t1", "exit 5");
  auto status = waitForExit("t1");
  EXPECT_EQ(status.state, TaskState::Exited);
  EXPECT_EQ(status.exitCode, 5);
  EXPECT_EQ(status.message, "exited with code 5");
}

TEST_F(RuntimeTest, MissingCommandFailsStartAndLeavesNothing) {
  auto result = runtime_->start(spec("t1", {"no-such-command-om", "arg"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(result.error().message.find("no-such-command-om"), std::string::npos)
      << result.error().message;
  EXPECT_FALSE(std::filesystem::exists(stateDir_.path() + "/t1"));
  EXPECT_TRUE(processesMentioning(stateDir_.path()).empty());
  auto ids = runtime_->list();
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_TRUE(ids->empty());
}

TEST_F(RuntimeTest, MissingNetworkNamespaceFailsStartWithTheErrnoText) {
  auto bad = spec("t1", {"sleep", "1000"});
  bad.netnsPath = namespacePath(netns_ + "-missing");
  auto result = runtime_->start(bad);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("No such file or directory"), std::string::npos)
      << result.error().message;
  EXPECT_FALSE(std::filesystem::exists(stateDir_.path() + "/t1"));
}

TEST_F(RuntimeTest, AMissingShimFailsStartAndLeavesNothing) {
  ProcessRuntime broken(stateDir_.path(), "/nonexistent/overmeshd");
  auto result = broken.start(spec("t1", {"sleep", "1000"}));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("/nonexistent/overmeshd"), std::string::npos)
      << result.error().message;
  EXPECT_FALSE(std::filesystem::exists(stateDir_.path() + "/t1"));
}

TEST_F(RuntimeTest, StartRefusesADuplicateTaskId) {
  start(spec("t1", {"sleep", "1000"}));
  auto again = runtime_->start(spec("t1", {"sleep", "1000"}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::Conflict);
}

TEST_F(RuntimeTest, StartRefusesABadSpec) {
  auto bad = spec("T-1", {"sleep", "1"});
  EXPECT_EQ(kindOf(runtime_->start(bad)), ErrorKind::InvalidArgument);
  bad = spec("t1", {});
  EXPECT_EQ(kindOf(runtime_->start(bad)), ErrorKind::InvalidArgument);
  bad = spec("t1", {"sleep", "1"});
  bad.env = {"NOEQUALS"};
  EXPECT_EQ(kindOf(runtime_->start(bad)), ErrorKind::InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(stateDir_.path() + "/t1"));
}

TEST_F(RuntimeTest, StopKillsATaskThatIgnoresSigtermAfterTheGrace) {
  startShell("t1", "trap '' TERM; while :; do sleep 1; done");
  auto begin = std::chrono::steady_clock::now();
  auto stopped = runtime_->stop("t1", 500ms);
  auto took = std::chrono::steady_clock::now() - begin;
  ASSERT_TRUE(stopped) << stopped.error().message;
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 10s);
  auto status = runtime_->status("t1");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->state, TaskState::Exited);
  EXPECT_EQ(status->exitCode, 128 + SIGKILL);
  // Idempotent.
  EXPECT_TRUE(runtime_->stop("t1", 500ms));
}

TEST_F(RuntimeTest, StopEndsATaskThatHandlesSigtermWithinTheGrace) {
  // PID 1 of a PID namespace gets SIGTERM only once it has a handler: wait for the trap.
  startShell("t1", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done");
  waitForLog("t1", "ready");
  auto begin = std::chrono::steady_clock::now();
  auto stopped = runtime_->stop("t1", 20s);
  ASSERT_TRUE(stopped) << stopped.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
  auto status = runtime_->status("t1");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->exitCode, 7);
}

TEST_F(RuntimeTest, TaskSurvivesTheRuntimeAndIsAdoptedByANewOne) {
  auto started = start(spec("t1", {"sleep", "1000"}));
  runtime_.reset();
  ASSERT_EQ(kill(started.pid, 0), 0) << "the task died with the runtime object";

  runtime_ = makeRuntime();
  auto ids = runtime_->list();
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(*ids, std::vector<std::string>{"t1"});
  auto status = runtime_->status("t1");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->state, TaskState::Running);
  EXPECT_EQ(status->pid, started.pid);
  EXPECT_EQ(exec("t1", {"uname", "-n"}).out, "web1\n");
  ASSERT_TRUE(runtime_->stop("t1", 100ms));
  EXPECT_EQ(stateOf("t1"), TaskState::Exited);
}

TEST_F(RuntimeTest, ShimIgnoresSigterm) {
  auto started = start(spec("t1", {"sleep", "1000"}));
  auto shim = readIdentityFile(stateDir_.path() + "/t1/shim.pid");
  ASSERT_TRUE(shim) << shim.error().message;
  ASSERT_EQ(kill(shim->pid, SIGTERM), 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(isRunning(*shim));
  EXPECT_EQ(stateOf("t1"), TaskState::Running);
}

TEST_F(RuntimeTest, StatusSaysWhenTheTaskEndedWhileTheShimWasGone) {
  // Orphans (the task, once its shim is gone) come to us instead of the machine's init,
  // so that this test can reap the task and leave no zombie behind.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  auto started = start(spec("t1", {"sleep", "1000"}));
  auto shim = readIdentityFile(stateDir_.path() + "/t1/shim.pid");
  ASSERT_TRUE(shim) << shim.error().message;
  ASSERT_EQ(kill(shim->pid, SIGKILL), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(stateOf("t1"), TaskState::Running);
  ASSERT_TRUE(runtime_->stop("t1", 100ms));
  auto status = runtime_->status("t1");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->state, TaskState::Exited);
  EXPECT_EQ(status->message, "exited while the shim was gone");
  EXPECT_EQ(waitpid(started.pid, nullptr, 0), started.pid);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(RuntimeTest, RemoveDeletesTheTaskAndItsDirectory) {
  auto started = start(spec("t1", {"sleep", "1000"}));
  auto task = identityOf(started.pid);
  ASSERT_TRUE(task) << task.error().message;
  ASSERT_TRUE(runtime_->remove("t1"));
  EXPECT_FALSE(isRunning(*task));
  EXPECT_FALSE(std::filesystem::exists(stateDir_.path() + "/t1"));
  EXPECT_TRUE(processesMentioning(stateDir_.path()).empty());
  EXPECT_EQ(kindOf(runtime_->status("t1")), ErrorKind::NotFound);
  EXPECT_TRUE(runtime_->remove("t1"));
}

TEST_F(RuntimeTest, UnknownTasksAreNotFound) {
  EXPECT_EQ(kindOf(runtime_->status("nope")), ErrorKind::NotFound);
  EXPECT_EQ(kindOf(runtime_->stop("nope", 1s)), ErrorKind::NotFound);
  EXPECT_EQ(kindOf(runtime_->logs("nope", 10)), ErrorKind::NotFound);
  EXPECT_EQ(kindOf(runtime_->exec("nope", {"true"}, 1s)), ErrorKind::NotFound);
  EXPECT_TRUE(runtime_->remove("nope"));
  EXPECT_EQ(kindOf(runtime_->status("../etc")), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace overmesh::runtime
