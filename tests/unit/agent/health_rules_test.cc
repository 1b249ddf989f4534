// The health-check rules as data: outcomes in, health out.

#include "agent/health_rules.h"

#include <gtest/gtest.h>

namespace overmesh::agent {
namespace {

using std::chrono::milliseconds;

HealthSettings settings(std::int64_t retries) {
  return HealthSettings{milliseconds(1000), milliseconds(500), milliseconds(0), retries};
}

CheckOutcome pass() { return {true, ""}; }
CheckOutcome fail() { return {false, "exit code 1: no"}; }

struct Step {
  CheckOutcome outcome;
  bool inStartPeriod;
  const char* health;  // after the step
  bool changed;
};

struct Case {
  const char* name;
  std::int64_t retries;
  std::vector<Step> steps;
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name; }

class HealthRulesTest : public ::testing::TestWithParam<Case> {};

TEST_P(HealthRulesTest, FollowsTheSteps) {
  const Case& c = GetParam();
  HealthProgress progress;
  for (std::size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    bool changed = applyCheck(progress, settings(c.retries), step.outcome, step.inStartPeriod);
    EXPECT_EQ(progress.health, step.health) << "step " << i;
    EXPECT_EQ(changed, step.changed) << "step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HealthRulesTest,
    ::testing::Values(Case{"PassMakesHealthy",
                           3,
                           {{pass(), false, "healthy", true}, {pass(), false, "healthy", false}}},
                      Case{
                          "RetriesInARow",
                          2,
                          {{fail(), false, "starting", false}, {fail(), false, "unhealthy", true}}},
                      Case{"APassResetsTheCount",
                           2,
                           {{pass(), false, "healthy", true},
                            {fail(), false, "healthy", false},
                            {pass(), false, "healthy", false},
                            {fail(), false, "healthy", false},
                            {fail(), false, "unhealthy", true},
                            {pass(), false, "healthy", true}}},
                      Case{"StartPeriodFailuresDoNotCount",
                           1,
                           {{fail(), true, "starting", false},
                            {fail(), true, "starting", false},
                            {fail(), false, "unhealthy", true}}},
                      Case{"APassEndsTheStartPeriod",
                           1,
                           {{pass(), true, "healthy", true}, {fail(), true, "unhealthy", true}}}),
    [](const auto& param) { return std::string(param.param.name); });

TEST(HealthRules, TheUnhealthyMessageNamesTheCountAndTheLastFailure) {
  HealthProgress progress;
  applyCheck(progress, settings(1), fail(), false);
  EXPECT_EQ(progress.message, "health check failed 1 times in a row; last: exit code 1: no");
  applyCheck(progress, settings(1), pass(), false);
  EXPECT_EQ(progress.message, "");
}

TEST(HealthRules, OutcomesOfExec) {
  runtime::ExecResult ok;
  EXPECT_TRUE(checkOutcome(ok, milliseconds(500)).passed);

  runtime::ExecResult bad;
  bad.exitCode = 7;
  bad.out = std::string(1000, 'x') + "\xff";
  auto outcome = checkOutcome(bad, milliseconds(500));
  EXPECT_FALSE(outcome.passed);
  EXPECT_EQ(outcome.detail.rfind("exit code 7: ", 0), 0u);
  EXPECT_LT(outcome.detail.size(), 300u) << "the output is bounded";

  runtime::ExecResult slow;
  slow.exitCode = 124;
  slow.timedOut = true;
  EXPECT_EQ(checkOutcome(slow, milliseconds(500)).detail, "timed out after 500 ms: ");

  Result<runtime::ExecResult> cannot = errorf(ErrorKind::FailedPrecondition, "not running");
  EXPECT_EQ(checkOutcome(cannot, milliseconds(500)).detail, "cannot run: not running");
}

TEST(HealthRules, UntrustedSettingsAreBounded) {
  api::HealthCheck check;
  check.intervalMs = 0;
  check.timeoutMs = -5;
  check.startPeriodMs = -1;
  check.retries = -3;
  auto bounded = healthSettings(check);
  EXPECT_EQ(bounded.interval, kMinHealthInterval);
  EXPECT_EQ(bounded.timeout, kMinHealthTimeout);
  EXPECT_EQ(bounded.startPeriod, milliseconds(0));
  EXPECT_EQ(bounded.retries, 1);
  check.intervalMs = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(healthSettings(check).interval, kMaxHealthDuration);
}

}  // namespace
}  // namespace overmesh::agent
