#pragma once

// How the orchestrator reads a service task's record: whether it should run, whether it
// ended, and whether it ended by itself (which the restart policy counts) or because the
// manager stopped it. Pure.

#include <optional>
#include <string>

#include "api/types.h"

namespace overmesh::orchestrator {

// desiredState is "running": the task counts for its slot and for placement spread.
bool shouldRun(const api::Task& task);

// exited, failed, shutdown or rejected: the task's process is gone for good.
bool isTerminalState(const std::string& state);

// Running and, when it has a health check, healthy: what a rolling update waits for.
bool runsHealthy(const api::Task& task);

// The task ended on its own: it exited, failed or was rejected, or its health check
// declared it unhealthy. Tasks the manager stopped (scale down, update, node down) end in
// "shutdown" instead and are not restart attempts. Relies on the agent keeping the
// exited/failed state and the "unhealthy" health of a task it then stops.
bool endedByItself(const api::Task& task);

// Ended by itself in a way restart condition on-failure restarts: failed, rejected, a
// non-zero exit code, or unhealthy.
bool endedInFailure(const api::Task& task);

// Why a task that should run must be shut down because it ended or is unhealthy, e.g.
// "task exited (exit code 0)", "task failed: MSG", "unhealthy"; nullopt while it is
// pending or runs healthy enough. The agent's message is untrusted: bounded here.
std::optional<std::string> endReason(const api::Task& task);

}  // namespace overmesh::orchestrator
