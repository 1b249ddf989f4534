#include "agent/health_rules.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/quote.h"

namespace overmesh::agent {
namespace {

std::chrono::milliseconds clampMs(std::int64_t ms, std::chrono::milliseconds low) {
  return std::clamp(std::chrono::milliseconds(ms), low, kMaxHealthDuration);
}

}  // namespace

HealthSettings healthSettings(const api::HealthCheck& check) {
  return HealthSettings{clampMs(check.intervalMs, kMinHealthInterval),
                        clampMs(check.timeoutMs, kMinHealthTimeout),
                        clampMs(check.startPeriodMs, std::chrono::milliseconds(0)),
                        std::max<std::int64_t>(check.retries, 1)};
}

CheckOutcome checkOutcome(const Result<runtime::ExecResult>& result,
                          std::chrono::milliseconds timeout) {
  if (!result) {
    return {false, "cannot run: " + printable(result.error().message, kHealthOutputMax)};
  }
  std::string output = result->out + result->err;
  if (result->timedOut) {
    return {false, fmt::format("timed out after {} ms: {}", timeout.count(),
                               printable(output, kHealthOutputMax))};
  }
  if (result->exitCode != 0) {
    return {false,
            fmt::format("exit code {}: {}", result->exitCode, printable(output, kHealthOutputMax))};
  }
  return {true, ""};
}

bool applyCheck(HealthProgress& progress, const HealthSettings& settings,
                const CheckOutcome& outcome, bool inStartPeriod) {
  std::string before = progress.health;
  if (outcome.passed) {
    progress.health = "healthy";
    progress.failures = 0;
    progress.passedOnce = true;
    progress.message.clear();
    return progress.health != before;
  }
  if (inStartPeriod && !progress.passedOnce) {
    return false;
  }
  ++progress.failures;
  if (progress.failures >= settings.retries) {
    progress.health = "unhealthy";
    progress.message = fmt::format("health check failed {} times in a row; last: {}",
                                   progress.failures, outcome.detail);
  }
  return progress.health != before;
}

}  // namespace overmesh::agent
