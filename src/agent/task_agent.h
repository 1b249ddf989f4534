#pragma once

// TaskAgent makes this node's kernel and processes match the desired state in the
// agent's cache: it starts the tasks placed here (sandbox namespace, wiring, process),
// programs the overlay for them (bridges, VXLAN, FDB and neighbour entries for remote
// endpoints), stops and cleans up tasks that are gone, and reports what it observes to
// the manager. Decisions come from planNode() (pure); this class applies them.
//
// Threads: one reconcile thread (start()/stop()), woken by cache changes and every few
// seconds. exec() and logs() are called from API threads and only touch the runtime.
// mutex_ guards reported_ and egress_.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/state_cache.h"
#include "agent/stop_signal.h"
#include "common/error.h"
#include "common/ip.h"
#include "dataplane/linux/sandbox_wiring.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

struct TaskAgentConfig {
  std::string nodeId;
  Ipv4Address advertiseAddress;
  std::string stateDir;         // runtime state lives under <stateDir>/tasks
  std::string shimPath;         // the overmeshd binary
  std::string namespacePrefix;  // sandbox namespaces are <prefix>t-<task id>
  Ipv4Prefix gatewaySubnet;
};

// What the agent tells the manager about a task: state, message, exit code.
using StatusReporter = std::function<Status(const std::string& taskId, const std::string& state,
                                            const std::string& message, std::int64_t exitCode)>;

class TaskAgent {
 public:
  TaskAgent(TaskAgentConfig config, const StateCache& cache, StatusReporter reporter);
  ~TaskAgent();

  void start();
  void stop();
  // Asks for a reconcile pass soon (the cache changed).
  void wake();

  Result<runtime::ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout);
  Result<std::string> logs(const std::string& taskId);

  std::string sandboxNamespace(const std::string& taskId) const;

 private:
  void run();
  void reconcile();
  void startTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                 const std::vector<api::Network>& networks);
  void removeTask(const std::string& taskId);
  Result<std::optional<Ipv4Prefix>> egressAddressFor(const dataplane::SandboxPlan& sandbox);
  void report(const api::Task& task, const std::string& state, const std::string& message,
              std::int64_t exitCode);

  TaskAgentConfig config_;
  const StateCache& cache_;
  StatusReporter reporter_;
  std::unique_ptr<runtime::TaskRuntime> runtime_;
  dataplane::kernel::GatewayConfig gateway_;
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

// The MTU of the interface holding `address` in this namespace (1500 when not found).
unsigned int underlayMtuFor(Ipv4Address address);

}  // namespace overmesh::agent
