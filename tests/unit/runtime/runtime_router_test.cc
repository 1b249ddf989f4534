// RuntimeRouter: each task goes to the runtime that runs it, found again after a restart.

#include "runtime/runtime_router.h"

#include <gtest/gtest.h>

#include "support/fake_runtime.h"

namespace overmesh::runtime {
namespace {

using namespace std::chrono_literals;
using testing::FakeTaskRuntime;

TaskSpec processTask(const std::string& id) {
  TaskSpec spec;
  spec.taskId = id;
  spec.command = {"sleep", "30"};
  return spec;
}

TaskSpec imageTask(const std::string& id) {
  TaskSpec spec;
  spec.taskId = id;
  spec.image = "198.18.0.101:5000/web:1";
  return spec;
}

TEST(RuntimeRouterTest, StartsByWhetherTheSpecHasAnImage) {
  FakeTaskRuntime processes;
  FakeTaskRuntime images;
  RuntimeRouter router(processes, images);
  ASSERT_TRUE(router.start(processTask("p1")));
  ASSERT_TRUE(router.start(imageTask("i1")));
  EXPECT_TRUE(processes.has("p1"));
  EXPECT_FALSE(processes.has("i1"));
  EXPECT_TRUE(images.has("i1"));
  EXPECT_FALSE(images.has("p1"));
}

TEST(RuntimeRouterTest, SendsEachCallToTheRuntimeThatHasTheTask) {
  FakeTaskRuntime processes;
  FakeTaskRuntime images;
  RuntimeRouter router(processes, images);
  ASSERT_TRUE(router.start(processTask("p1")));
  ASSERT_TRUE(router.start(imageTask("i1")));
  ASSERT_TRUE(router.stop("i1", 2s));
  EXPECT_EQ(images.stops.size(), 1u);
  EXPECT_TRUE(processes.stops.empty());
  auto status = router.status("i1");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, TaskState::Exited);
  EXPECT_EQ(*router.logs("p1", 100), "log of p1");
  auto exec = router.exec("p1", {"true"}, 1s);
  ASSERT_TRUE(exec);
  EXPECT_EQ(processes.execs.size(), 1u);
  EXPECT_TRUE(images.execs.empty());
  ASSERT_TRUE(router.remove("i1"));
  EXPECT_FALSE(images.has("i1"));
  EXPECT_TRUE(processes.has("p1"));
  EXPECT_EQ(processes.calls, (std::vector<std::string>{"start p1"})) << "nothing reached it";
}

TEST(RuntimeRouterTest, AfterARestartFindsTasksByListingOrByAsking) {
  FakeTaskRuntime processes;
  FakeTaskRuntime images;
  // Tasks that a previous daemon started.
  ASSERT_TRUE(processes.start(processTask("p1")));
  ASSERT_TRUE(images.start(imageTask("i1")));
  ASSERT_TRUE(images.start(imageTask("i2")));
  {
    RuntimeRouter router(processes, images);
    auto listed = router.list();
    ASSERT_TRUE(listed);
    EXPECT_EQ(*listed, (std::vector<std::string>{"i1", "i2", "p1"}));
    ASSERT_TRUE(router.stop("i2", 1s));
    EXPECT_EQ(images.stops.size(), 1u);
    EXPECT_TRUE(processes.stops.empty()) << "known from list(): asked only the image runtime";
  }
  // Without list(): the process runtime answers NotFound, then the image runtime is asked.
  RuntimeRouter router(processes, images);
  auto status = router.status("i1");
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(status->state, TaskState::Running);
  auto unknown = router.status("nosuch");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::NotFound);
}

TEST(RuntimeRouterTest, RemoveOfAnUnknownTaskAsksBoth) {
  FakeTaskRuntime processes;
  FakeTaskRuntime images;
  RuntimeRouter router(processes, images);
  ASSERT_TRUE(router.remove("gone"));
  EXPECT_EQ(processes.calls, (std::vector<std::string>{"remove gone"}));
  EXPECT_EQ(images.calls, (std::vector<std::string>{"remove gone"}));
}

TEST(RuntimeRouterTest, CancelsExecsInBoth) {
  FakeTaskRuntime processes;
  FakeTaskRuntime images;
  RuntimeRouter router(processes, images);
  router.cancelExecs();
  EXPECT_EQ(processes.calls, (std::vector<std::string>{"cancelExecs"}));
  EXPECT_EQ(images.calls, (std::vector<std::string>{"cancelExecs"}));
}

// A runtime whose list() fails, as the image runtime does when podman is missing.
class BrokenListRuntime final : public TaskRuntime {
 public:
  Result<TaskStatus> start(const TaskSpec&) override { return failure(); }
  Result<TaskStatus> status(const std::string&) override { return failure(); }
  Status stop(const std::string&, std::chrono::milliseconds) override { return failure(); }
  Status remove(const std::string&) override { return {}; }
  Result<ExecResult> exec(const std::string&, const std::vector<std::string>&,
                          std::chrono::milliseconds) override {
    return failure();
  }
  void cancelExecs() override {}
  Result<std::string> logs(const std::string&, std::size_t) override { return failure(); }
  Result<std::vector<std::string>> list() override { return failure(); }

 private:
  static std::unexpected<Error> failure() {
    return std::unexpected(Error{ErrorKind::Unavailable, "podman is not installed"});
  }
};

TEST(RuntimeRouterTest, ListsProcessTasksWhenTheImageRuntimeFails) {
  FakeTaskRuntime processes;
  BrokenListRuntime images;
  ASSERT_TRUE(processes.start(processTask("p1")));
  RuntimeRouter router(processes, images);
  auto listed = router.list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(*listed, std::vector<std::string>{"p1"});
  auto started = router.start(imageTask("i1"));
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().message, "podman is not installed");
}

}  // namespace
}  // namespace overmesh::runtime
