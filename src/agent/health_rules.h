#pragma once

// The health-check rules (Docker's), as pure functions of a task's check settings, its
// health so far and one check's outcome: no clock, no runtime, unit-tested as data.
//
//  - A watched task starts "starting". Its first check runs one interval after it was
//    seen running, each next one an interval after the previous one ended.
//  - A passing check makes it "healthy" and resets the failure count; it also ends the
//    start period early (later failures count).
//  - During the start period (startPeriodMs after it was seen running, until the first
//    pass) failures do not count.
//  - After `retries` failures in a row that count, it is "unhealthy" (until a pass).
//  - A check that times out, cannot run, or exits non-zero has failed.

#include <chrono>
#include <cstdint>
#include <string>

#include "api/types.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

// A record's check settings made safe to schedule: a record is untrusted input, and an
// interval of 0 would spin, a timeout of 0 would fail every check, a negative count
// would never trip.
struct HealthSettings {
  std::chrono::milliseconds interval;
  std::chrono::milliseconds timeout;
  std::chrono::milliseconds startPeriod;
  std::int64_t retries;
};
inline constexpr std::chrono::milliseconds kMinHealthInterval{100};
inline constexpr std::chrono::milliseconds kMaxHealthDuration{std::chrono::hours(24)};
inline constexpr std::chrono::milliseconds kMinHealthTimeout{10};
HealthSettings healthSettings(const api::HealthCheck& check);

struct HealthProgress {
  std::string health = "starting";  // "starting" | "healthy" | "unhealthy"
  std::int64_t failures = 0;        // failures in a row that counted
  bool passedOnce = false;          // a check passed: the start period is over
  std::string message;              // why unhealthy (empty otherwise)
};

// One check's outcome, from what runtime exec returned.
struct CheckOutcome {
  bool passed = false;
  std::string detail;  // for a failure: what happened, printable and bounded
};
// At most this many bytes of a failing check's output go into the task's message.
inline constexpr std::size_t kHealthOutputMax = 200;
CheckOutcome checkOutcome(const Result<runtime::ExecResult>& result,
                          std::chrono::milliseconds timeout);

// Applies one outcome; `inStartPeriod` is whether the check ended within the start
// period. Returns true when progress.health changed.
bool applyCheck(HealthProgress& progress, const HealthSettings& settings,
                const CheckOutcome& outcome, bool inStartPeriod);

}  // namespace overmesh::agent
