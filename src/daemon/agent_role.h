#pragma once

// Everything every cluster member runs: a cache of the desired state kept in sync with
// the manager, the task agent that makes the node's tasks and overlay match it, and (on
// workers) heartbeats. It also owns what the task agent works through: the Linux kernel
// seam and the task runtimes (processes, and images through the node's podman, behind a
// RuntimeRouter). The manager's own agent reads its store directly; it needs no
// heartbeat because the manager never marks itself down. It also keeps the node's podman
// configured with the cluster's registry settings (registry_settings_applier.h).

#include <memory>
#include <string>

#include "agent/heartbeat_loop.h"
#include "agent/manager_endpoints.h"
#include "agent/state_cache.h"
#include "agent/state_sync.h"
#include "agent/task_agent.h"
#include "api/tls.h"
#include "daemon/registry_settings_applier.h"
#include "daemon/underlay_guard.h"
#include "dataplane/node_kernel.h"
#include "dns/embedded_dns.h"
#include "runtime/image_store.h"
#include "runtime/podman/podman_service.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace overmesh::daemon {

class AgentRole {
 public:
  // A worker's agent: state and heartbeats from the manager at `managerAddress` (IP:PORT)
  // over mutual TLS with the node's certificate (`tls`, kManagerServerName).
  // With several managers the agent follows the leader (agent/manager_endpoints.h): it
  // starts from the managers saved in <tasks.stateDir>/managers.json (known_managers.h),
  // then `managerAddress`, and saves every list and leader its heartbeats learn.
  // `podman` and `images` are the daemon's (they outlive every role). InvalidArgument when
  // no saved or given manager address is valid.
  static Result<std::unique_ptr<AgentRole>> forWorker(const std::string& managerAddress,
                                                      api::TlsClientConfigSource tls,
                                                      agent::TaskAgentConfig tasks,
                                                      runtime::podman::PodmanService& podman,
                                                      runtime::ImageStore& images);
  // The manager's own agent, fed from its store; task states are written with `reporter`.
  static std::unique_ptr<AgentRole> forManager(store::Store& store, agent::TaskAgentConfig tasks,
                                               agent::StatusReporter reporter,
                                               runtime::podman::PodmanService& podman,
                                               runtime::ImageStore& images);
  ~AgentRole();

  // Ends the execs in progress on this node's tasks and refuses new ones (see
  // TaskRuntime::cancelExecs): before the servers that run them are stopped.
  void cancelExecs();
  // Asks the agent's threads to finish; stop() waits for them.
  void requestStop();
  void stop();

  const agent::StateCache& cache() const { return cache_; }
  // The managers a worker's clients follow (null for the manager's own agent): for the
  // certificate renewal, which must reach the leader too.
  std::shared_ptr<agent::ManagerEndpoints> managers() const { return managers_; }
  agent::TaskAgent& tasks() { return *tasks_; }
  // Empty when in sync with the manager, else what is wrong.
  std::string problem() const;

 private:
  AgentRole() = default;
  void startTasks(agent::TaskAgentConfig config, agent::StatusReporter reporter,
                  runtime::podman::PodmanService& podman, runtime::ImageStore& images);

  agent::StateCache cache_;
  std::shared_ptr<agent::ManagerEndpoints> managers_;
  // Declared before tasks_: the task agent uses them until it is destroyed.
  std::unique_ptr<dataplane::NodeKernel> kernel_;
  std::unique_ptr<runtime::TaskRuntime> processRuntime_;
  std::unique_ptr<runtime::TaskRuntime> imageRuntime_;
  std::unique_ptr<runtime::TaskRuntime> runtime_;  // routes to the two above
  // Before sync_: the cache's change callback (run by the sync) uses it.
  std::unique_ptr<RegistrySettingsApplier> registries_;
  std::unique_ptr<UnderlayGuard> underlay_;  // members-only VXLAN and node port
  std::unique_ptr<dns::EmbeddedDns> dns_;
  std::unique_ptr<agent::TaskAgent> tasks_;
  std::unique_ptr<agent::StateSync> sync_;
  std::unique_ptr<agent::HeartbeatLoop> heartbeat_;
};

// Reports task states to the leading manager over the cluster protocol (one kept-alive
// connection, rebuilt after a renewal or a move to another manager).
agent::StatusReporter remoteStatusReporter(std::shared_ptr<agent::ManagerEndpoints> managers,
                                           api::TlsClientConfigSource tls);

}  // namespace overmesh::daemon
