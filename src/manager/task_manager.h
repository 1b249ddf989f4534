#pragma once

// TaskManager owns task records: `overmesh run` (a standalone task on attachable
// networks), removal, and the observed state agents report. Creating a task validates
// everything first, then places it (scheduler), allocates an address and a MAC on each
// of its networks (IPAM) and writes it in one compare-and-swap transaction, guarded per
// network so that two tasks never get one address and `network rm` never races an
// attach.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/types.h"
#include "common/error.h"
#include "store/store.h"

namespace overmesh::manager {

struct RunRequest {
  std::string name;                   // empty = generated
  std::vector<std::string> networks;  // names or IDs, in eth0, eth1… order
  std::optional<std::string> node;    // hostname or ID to pin the task to
  std::vector<std::string> command;   // optional when container.image is given
  std::vector<std::string> env;       // KEY=VALUE
  api::ContainerSpec container;       // empty image: a process task
  std::int64_t stopGracePeriodMs = 10000;  // SIGKILL this long after the stop signal
};

struct StatusReport {
  std::string taskId;
  std::string nodeId;   // the reporting node; must be the task's
  std::string state;    // "preparing" | "running" | "exited" | "failed" | "shutdown" | "rejected"
  std::string message;
  std::int64_t exitCode = 0;
  std::string health;  // "" | "starting" | "healthy" | "unhealthy"
};

class TaskManager {
 public:
  explicit TaskManager(store::Store& store);

  // Creates a standalone task. InvalidArgument (bad name, neither image nor command, a
  // container spec validateContainerSpec refuses, a bad env entry, a negative stop grace
  // period, no network, a network twice), NotFound (unknown network or node), FailedPrecondition
  // (network not attachable, no ready node, subnet full), Conflict (name taken).
  Result<api::Task> run(const RunRequest& request);

  Result<std::vector<api::Task>> list();
  Result<api::Task> inspect(const std::string& reference);

  // Deletes a task; its node then stops it and removes its sandbox. A task that is
  // running is refused unless `force`. A task of a service that still exists is refused
  // (FailedPrecondition, even with `force`): the service manages its tasks, and deleting
  // the record would free its address while the task still runs.
  Result<api::Task> remove(const std::string& reference, bool force);

  // Records the state a node observed. PermissionDenied when the reporting node is not
  // the task's; NotFound when the task was removed meanwhile.
  Status reportStatus(const StatusReport& report);

 private:
  Result<std::vector<std::pair<api::Task, store::Revision>>> readTasks();

  store::Store& store_;
  std::mutex mutex_;  // serialises this manager's allocations (CAS covers other managers)
};

}  // namespace overmesh::manager
