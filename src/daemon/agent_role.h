#pragma once

// Everything every cluster member runs: a cache of the desired state kept in sync with
// the manager, the task agent that makes the node's tasks and overlay match it, and (on
// workers) heartbeats. It also owns what the task agent works through: the Linux kernel
// seam and the process runtime. The manager's own agent reads its store directly; it needs no
// heartbeat because the manager never marks itself down.

#include <memory>
#include <string>

#include "agent/heartbeat_loop.h"
#include "agent/state_cache.h"
#include "agent/state_sync.h"
#include "agent/task_agent.h"
#include "dataplane/node_kernel.h"
#include "dns/embedded_dns.h"
#include "runtime/image_store.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace overmesh::daemon {

class AgentRole {
 public:
  // A worker's agent: state and heartbeats from the manager at `managerAddress` (IP:PORT).
  // `images` (the daemon's image store) must outlive the role.
  static std::unique_ptr<AgentRole> forWorker(const std::string& managerAddress,
                                              agent::NodeCredentials credentials,
                                              agent::TaskAgentConfig tasks,
                                              runtime::ImageStore& images);
  // The manager's own agent, fed from its store; task states are written with `reporter`.
  static std::unique_ptr<AgentRole> forManager(store::Store& store, agent::TaskAgentConfig tasks,
                                               runtime::ImageStore& images,
                                               agent::StatusReporter reporter);
  ~AgentRole();

  // Ends the execs in progress on this node's tasks and refuses new ones (see
  // TaskRuntime::cancelExecs): before the servers that run them are stopped.
  void cancelExecs();
  // Asks the agent's threads to finish; stop() waits for them.
  void requestStop();
  void stop();

  const agent::StateCache& cache() const { return cache_; }
  agent::TaskAgent& tasks() { return *tasks_; }
  // Empty when in sync with the manager, else what is wrong.
  std::string problem() const;

 private:
  AgentRole() = default;
  void startTasks(agent::TaskAgentConfig config, runtime::ImageStore& images,
                  agent::StatusReporter reporter);

  agent::StateCache cache_;
  // Declared before tasks_: the task agent uses them until it is destroyed.
  std::unique_ptr<dataplane::NodeKernel> kernel_;
  std::unique_ptr<runtime::TaskRuntime> runtime_;
  std::unique_ptr<dns::EmbeddedDns> dns_;
  std::unique_ptr<agent::TaskAgent> tasks_;
  std::unique_ptr<agent::StateSync> sync_;
  std::unique_ptr<agent::HeartbeatLoop> heartbeat_;
};

// Reports task states to the manager over the cluster protocol.
agent::StatusReporter remoteStatusReporter(const std::string& managerAddress,
                                           agent::NodeCredentials credentials);

}  // namespace overmesh::daemon
