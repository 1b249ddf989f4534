// The report sender: one report per change of any of its four fields, none for what the
// record says already, a running task's health merged in, a failed send tried again, and
// reports from several threads.

#include "agent/task_report_sender.h"

#include <gtest/gtest.h>

#include <thread>

namespace overmesh::agent {
namespace {

api::Task recordOf(std::string id, std::string state = "pending") {
  api::Task t;
  t.id = std::move(id);
  t.state = std::move(state);
  return t;
}

class TaskReportSenderTest : public ::testing::Test {
 protected:
  std::mutex mutex_;
  std::vector<TaskReport> sent_;  // guarded by mutex_
  bool failing_ = false;          // guarded by mutex_
  TaskReportSender sender_{[this](const std::string&, const TaskReport& report) -> Status {
    std::lock_guard lock(mutex_);
    if (failing_) {
      return errorf(ErrorKind::Unavailable, "manager unreachable");
    }
    sent_.push_back(report);
    return {};
  }};
};

TEST_F(TaskReportSenderTest, SendsEachChangeOfAnyFieldOnce) {
  auto t = recordOf("t1");
  EXPECT_TRUE(sender_.send(t, {"running", "", 0, ""}));
  EXPECT_TRUE(sender_.send(t, {"running", "", 0, ""}));
  EXPECT_TRUE(sender_.send(t, {"failed", "exit code 2", 2, ""}));
  EXPECT_TRUE(sender_.send(t, {"failed", "exit code 2", 3, ""}));
  EXPECT_TRUE(sender_.send(t, {"failed", "killed", 3, ""}));
  EXPECT_EQ(sent_, (std::vector<TaskReport>{{"running", "", 0, ""},
                                            {"failed", "exit code 2", 2, ""},
                                            {"failed", "exit code 2", 3, ""},
                                            {"failed", "killed", 3, ""}}));
}

TEST_F(TaskReportSenderTest, SendsNothingTheRecordSaysAlready) {
  auto t = recordOf("t1", "running");
  t.health = "healthy";
  sender_.setHealth("t1", "healthy", "");
  EXPECT_TRUE(sender_.send(t, {"running", "", 0, ""}));
  EXPECT_TRUE(sent_.empty());
}

TEST_F(TaskReportSenderTest, HealthChangesOfARunningTaskAreSentWithIt) {
  auto t = recordOf("t1");
  sender_.setHealth("t1", "starting", "");  // not reported running yet: kept for later
  EXPECT_TRUE(sent_.empty());
  sender_.send(t, {"running", "", 0, ""});
  sender_.setHealth("t1", "unhealthy", "health check failed 3 times");
  sender_.setHealth("t1", "healthy", "");
  sender_.send(t, {"shutdown", "stopped", 0, ""});
  sender_.setHealth("t1", "unhealthy", "late");  // a check that ended after the stop
  EXPECT_EQ(sent_,
            (std::vector<TaskReport>{{"running", "", 0, "starting"},
                                     {"running", "health check failed 3 times", 0, "unhealthy"},
                                     {"running", "", 0, "healthy"},
                                     {"shutdown", "stopped", 0, ""}}));
}

TEST_F(TaskReportSenderTest, AFailedSendIsSentAgainNextTime) {
  auto t = recordOf("t1");
  failing_ = true;
  EXPECT_FALSE(sender_.send(t, {"running", "", 0, ""}));
  failing_ = false;
  EXPECT_TRUE(sender_.send(t, {"running", "", 0, ""}));
  EXPECT_EQ(sent_.size(), 1u);
}

TEST_F(TaskReportSenderTest, ForgetsTasksWhoseRecordsAreGone) {
  auto t = recordOf("t1");
  sender_.send(t, {"running", "", 0, ""});
  sender_.retain({});
  sender_.send(t, {"running", "", 0, ""});
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(TaskReportSenderTest, ReportsFromSeveralThreadsAreEachSentOnce) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([this] {
      for (int n = 0; n < 200; ++n) {
        auto t = recordOf("t" + std::to_string(n));
        sender_.send(t, {"running", "", 0, ""});
        sender_.setHealth(t.id, "healthy", "");
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  std::lock_guard lock(mutex_);
  // Per task: running (with or without the health, depending on who came first), and at
  // most one more with the health.
  EXPECT_GE(sent_.size(), 200u);
  EXPECT_LE(sent_.size(), 400u);
}

}  // namespace
}  // namespace overmesh::agent
