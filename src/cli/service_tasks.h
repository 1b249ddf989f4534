#pragma once

// How the service commands read a service's tasks: which belong to it, which is newer,
// which have ended or are live, and the names Docker shows for them. Pure.

#include <cstdint>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::cli {

// The tasks of `service` (by serviceId), newest first within each slot or node (see
// newerTask), slots ascending; global tasks ordered by node hostname, then node ID.
std::vector<api::Task> tasksOfService(const api::Service& service,
                                      const std::vector<api::Task>& tasks);

// True when `a` comes before `b` in its slot (or node): a task desired running before one
// that is not (it is the slot's current task), then the later createdAt, then the later
// updatedAtMs, then the larger ID (a stable order for equal times).
bool newerTask(const api::Task& a, const api::Task& b);

// The task's process is over: failed, rejected or exited (not one stopped on purpose,
// whose state is "shutdown").
bool taskEnded(const api::Task& task);

// Runs and, when it has a health check, is healthy (DESIGN.md's "live", less the node).
bool taskRunsHealthy(const api::Task& task);

// What groups a service's tasks into rows: the slot ("1") or, for a global service, the
// node ID.
std::string slotKey(const api::Service& service, const api::Task& task);

// Docker's task name in tables: "web.1" (replicated) or "web.<node short id>" (global);
// the task's full name "web.1.<task id>" when `full`.
std::string taskDisplayName(const api::Service& service, const api::Task& task, bool full);

// A state in a table, capitalised as Docker shows it ("running" → "Running").
std::string capitalised(std::string text);

}  // namespace overmesh::cli
