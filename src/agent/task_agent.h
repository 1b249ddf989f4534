#pragma once

// TaskAgent makes this node's kernel and processes match the desired state in the
// agent's cache: it starts the tasks placed here (sandbox namespace, wiring, process),
// programs the overlay for them (bridges, VXLAN, FDB and neighbour entries for remote
// endpoints), stops and cleans up tasks that are gone, and reports what it observes to
// the manager. Decisions come from planNode() (pure); this class applies them through two
// seams it is given: the node's kernel (dataplane::NodeKernel: overlay devices, sandbox
// namespaces and wiring, gateway NAT) and the task runtime (runtime::TaskRuntime). Both
// must outlive the agent; tests give it fakes (tests/support/fake_kernel.h,
// fake_runtime.h).
//
// Threads: one reconcile thread (start()/stop()), woken by cache changes and every few
// seconds. exec() and logs() are called from API threads and only touch the runtime.
// mutex_ guards reported_ and egress_.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/state_cache.h"
#include "agent/stop_signal.h"
#include "common/error.h"
#include "common/ip.h"
#include "dataplane/node_kernel.h"
#include "dataplane/overlay_plan.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

struct TaskAgentConfig {
  std::string nodeId;
  Ipv4Address advertiseAddress;
  // For whoever builds the runtime (daemon/agent_role.cc): its state lives under
  // <stateDir>/tasks, its shim is the overmeshd binary at shimPath.
  std::string stateDir;
  std::string shimPath;
  std::string namespacePrefix;  // sandbox namespaces are <prefix>t-<task id>
  Ipv4Prefix gatewaySubnet;
};

// What the agent tells the manager about a task.
struct TaskReport {
  std::string state;  // "running" | "exited" | "failed" | "shutdown" | "rejected"
  std::string message;
  std::int64_t exitCode = 0;
  std::string health;  // "" (no health check) | "starting" | "healthy" | "unhealthy"
};
using StatusReporter = std::function<Status(const std::string& taskId, const TaskReport& report)>;

class TaskAgent {
 public:
  TaskAgent(TaskAgentConfig config, const StateCache& cache, StatusReporter reporter,
            dataplane::NodeKernel& kernel, runtime::TaskRuntime& runtime);
  ~TaskAgent();

  void start();
  void stop();
  // Asks for a reconcile pass soon (the cache changed).
  void wake();

  // One reconcile pass on the calling thread: what the thread does after every wake-up.
  // Not to be called while the thread runs (tests call it instead of start()).
  void reconcile();

  Result<runtime::ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout);
  Result<std::string> logs(const std::string& taskId);

  std::string sandboxNamespace(const std::string& taskId) const;

 private:
  void run();
  void startTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                 const std::vector<api::Network>& networks);
  void removeTask(const std::string& taskId);
  Result<std::optional<Ipv4Prefix>> egressAddressFor(const dataplane::SandboxPlan& sandbox);
  void report(const api::Task& task, const std::string& state, const std::string& message,
              std::int64_t exitCode);

  TaskAgentConfig config_;
  const StateCache& cache_;
  StatusReporter reporter_;
  dataplane::NodeKernel& kernel_;
  runtime::TaskRuntime& runtime_;
  dataplane::GatewayConfig gateway_;
  unsigned int underlayMtu_ = 1500;

  std::mutex wakeMutex_;
  std::condition_variable wakeUp_;
  bool pending_ = false;  // guarded by wakeMutex_
  StopSignal stop_;
  std::thread thread_;

  std::mutex mutex_;
  // Last state reported per task, so a report is sent once per change.
  std::map<std::string, std::string> reported_;  // guarded by mutex_
  std::map<std::string, Ipv4Prefix> egress_;     // guarded by mutex_
};

}  // namespace overmesh::agent
