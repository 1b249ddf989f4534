#pragma once

// TaskAgent makes this node's kernel and processes match the desired state in the
// agent's cache: it starts the tasks placed here (sandbox namespace, wiring, process),
// programs the overlay for them (bridges, VXLAN, FDB and neighbour entries for remote
// endpoints), drains, stops and cleans up tasks that should not run any more, runs their
// health checks, and reports what it observes to the manager. Decisions come from
// planNode() (pure) and health_rules.h; this class applies them through two seams it is
// given: the node's kernel (dataplane::NodeKernel: overlay devices, sandbox namespaces
// and wiring, gateway NAT) and the task runtime (runtime::TaskRuntime). Both must outlive
// the agent; tests give it fakes (tests/support/fake_kernel.h, fake_runtime.h). A third
// seam, the node's image store (runtime::ImageStore), is used only through the
// ImagePuller, on its own threads.
//
// A task's life here: "pending" in its record -> (an image task whose image is not on
// the node: its pull requested, reported "preparing" with the pull's progress, or
// "failed" with the registry's words when the pull fails) -> started, reported "running" (with
// health "starting" when it has a check) -> health checks report "healthy"/"unhealthy"
// -> the record says desiredState "shutdown" (or disappears) -> drained and stopped by
// the TaskStopper off the reconcile thread, reported "shutdown" -> its sandbox removed by
// the next reconcile pass. A task that exits on its own is reported "exited"/"failed"
// and keeps its sandbox (and logs) until the manager shuts it down.
//
// Threads: one reconcile thread (start()/stop()), woken by cache changes, by ended stops
// by pulls that ended or moved, and every few seconds; it alone uses the kernel seam. Stop workers
// (TaskStopper) and health checks (HealthMonitor) use only the runtime and the report sender.
// exec() and logs() are called from API threads and only touch the runtime. mutex_ guards egress_.

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/health_monitor.h"
#include "agent/image_puller.h"
#include "agent/sandbox_discovery.h"
#include "agent/state_cache.h"
#include "agent/stop_signal.h"
#include "agent/task_report_sender.h"
#include "agent/task_stopper.h"
#include "common/clock.h"
#include "common/error.h"
#include "common/ip.h"
#include "dataplane/mesh_plan.h"
#include "dataplane/node_kernel.h"
#include "dataplane/overlay_plan.h"
#include "runtime/image_store.h"
#include "runtime/runtime.h"

namespace overmesh::agent {

struct TaskAgentConfig {
  std::string nodeId;
  Ipv4Address advertiseAddress;
  // For whoever builds the runtime (daemon/agent_role.cc): its state lives under
  // <stateDir>/tasks, its shim is the overmeshd binary at shimPath.
  std::string stateDir;
  std::string shimPath;
  // For whoever builds the embedded DNS: the node's resolvers, where names that are not
  // the cluster's are forwarded (overmeshd --resolv-conf).
  std::string resolvConfPath = "/etc/resolv.conf";
  std::string namespacePrefix;  // sandbox namespaces are <prefix>t-<task id>
  Ipv4Prefix gatewaySubnet;
  // How long a live task keeps running after it was told to shut down (task_stopper.h
  // says why); tests shorten it.
  std::chrono::milliseconds drainBeforeStop = kDrainBeforeStop;
  // Ports the node itself needs, as {protocol, port}: the cluster API, the node API, VXLAN.
  // A published port equal to one of them is not opened here (the mesh DNATs every local
  // address, so it would capture the cluster's own traffic). The manager refuses the
  // default ports; this also covers a daemon started with others.
  std::set<std::pair<std::string, std::uint16_t>> reservedPorts;
  // For whoever builds the underlay filter (daemon/underlay_guard.h): the node API's TCP
  // port, which only members may reach (overmeshd --node-port).
  std::uint16_t nodePort = 2378;
};

class TaskAgent {
 public:
  // `clock` times health checks and pull failures' hold-off (the system's steady clock
  // when null); it, `images` and the other seams must outlive the agent.
  TaskAgent(TaskAgentConfig config, const StateCache& cache, StatusReporter reporter,
            dataplane::NodeKernel& kernel, runtime::TaskRuntime& runtime,
            runtime::ImageStore& images, dns::EmbeddedDns& dns, const Clock* clock = nullptr);
  ~TaskAgent();
  TaskAgent(const TaskAgent&) = delete;
  TaskAgent& operator=(const TaskAgent&) = delete;

  // Starts the reconcile thread and the health-check scheduler.
  void start();
  // Stops both and the image puller; stops in their drain are abandoned (a restarted agent
  // redoes them), stops already signalled finish (bounded by their grace), health checks
  // in flight end, pulls in flight are abandoned (ImagePuller::stop()).
  void stop();
  // Asks for a reconcile pass soon (the cache changed).
  void wake();

  // One reconcile pass on the calling thread: what the thread does after every wake-up.
  // Not to be called while the thread runs (tests call it instead of start()).
  void reconcile();

  // Waits until no task is being drained or stopped; false at the timeout. For tests,
  // and for a caller that wants the stops in flight done before it goes on.
  bool waitForStops(std::chrono::milliseconds timeout);

  // One health-check pass on the calling thread: starts the checks due by the clock and
  // waits for them. Tests call it (with a ManualClock) instead of start().
  void checkHealth();

  // Waits until no image pull runs or waits; false at the timeout. For tests.
  bool waitForPulls(std::chrono::milliseconds timeout);

  Result<runtime::ExecResult> exec(const std::string& taskId, const std::vector<std::string>& argv,
                                   std::chrono::milliseconds timeout);
  Result<std::string> logs(const std::string& taskId);

  std::string sandboxNamespace(const std::string& taskId) const;

 private:
  void run();
  // Local tasks that should not run (record says shutdown, record gone or moved): hands
  // running ones to the stopper, reports the exit of those that ended on their own, and
  // removes the sandboxes of both once stopped. `present`: processes and sandboxes here.
  void settleUnwanted(const std::map<std::string, const api::Task*>& tasksById,
                      const std::set<std::string>& present, const TaskStopper::Progress& stops);
  // Reports "shutdown" for local tasks told to shut down that have no process and no
  // sandbox here (never started, or stopped and cleaned up while the report failed).
  void reportGone(const std::vector<api::Task>& tasks, const std::set<std::string>& present,
                  const TaskStopper::Progress& stops);
  // A wanted task that has a process: repairs its wiring and reports what it does.
  void observeTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                   std::set<std::string>& running);
  // An image task's image: true when it is on the node; otherwise its pull is requested
  // and the task reported "preparing" (pull running) or "failed" (pull failed).
  bool imageReady(const api::Task& task);
  void startTask(const api::Task& task, const dataplane::SandboxPlan& sandbox,
                 const std::vector<api::Network>& networks, const dataplane::MeshIndex& mesh);
  // Deletes the task's files, wiring and namespace. False when the runtime could not
  // remove the task (logged; the next pass tries again).
  bool removeTask(const std::string& taskId);
  Result<std::optional<Ipv4Prefix>> egressAddressFor(const dataplane::SandboxPlan& sandbox);
  // The gateway-bridge address of a local task that has one (known, or read back from its
  // sandbox after a restart), for host-mode ports; nullopt otherwise.
  std::optional<Ipv4Address> localAddressOf(const std::string& taskId);
  // The routing mesh's view of this pass: this node's published ports and every
  // sandbox's ingress side. Programs the node's ports (errors logged).
  dataplane::MeshIndex applyMesh(const std::vector<api::Network>& networks,
                                 const std::vector<api::Service>& services,
                                 const std::vector<api::Task>& tasks,
                                 const std::vector<api::Node>& nodes);
  bool report(const api::Task& task, const std::string& state, const std::string& message,
              std::int64_t exitCode);

  TaskAgentConfig config_;
  const StateCache& cache_;
  dataplane::NodeKernel& kernel_;
  runtime::TaskRuntime& runtime_;
  SystemClock systemClock_;
  const Clock& clock_;
  dataplane::GatewayConfig gateway_;
  unsigned int underlayMtu_ = 1500;

  SandboxDiscovery discovery_;  // reconcile thread only
  // The node's published ports as last applied (reconcile thread only): a pass whose
  // mesh is the same does not call the kernel at all.
  dataplane::NodeMesh appliedMesh_;
  bool meshApplied_ = false;
  std::set<std::pair<std::string, std::uint16_t>> reservedPortsLogged_;  // said once each
  TaskReportSender sender_;
  HealthMonitor health_;
  TaskStopper stopper_;
  ImagePuller puller_;

  std::mutex wakeMutex_;
  std::condition_variable wakeUp_;
  bool pending_ = false;  // guarded by wakeMutex_
  StopSignal stop_;
  std::thread thread_;

  std::mutex mutex_;
  std::map<std::string, Ipv4Prefix> egress_;  // guarded by mutex_
};

}  // namespace overmesh::agent
