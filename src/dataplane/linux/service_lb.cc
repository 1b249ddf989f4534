#include "dataplane/linux/service_lb.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "dataplane/linux/conntrack.h"
#include "dataplane/service_lb_rules.h"

namespace overmesh::dataplane::kernel {

// Deletes UDP flows on a thread of its own. Jobs carry an open descriptor of their
// namespace, so a namespace deleted meanwhile is still the one cleaned (or just freed).
class SandboxLoadBalancers::FlowCleaner {
 public:
  struct Job {
    UniqueFd namespaceFd;
    std::string namespaceName;
    LbDeparture departure;
  };

  FlowCleaner() : thread_([this] { run(); }) {}
  ~FlowCleaner() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  // Each job holds a namespace file descriptor and takes ~12 ms (a walk of the whole
  // conntrack table), so the queue is bounded: when a node with many backends goes down
  // in a busy cluster, flows beyond the bound are left to their conntrack timeout (UDP:
  // 30 s, 120 s once replied to) rather than the daemon running out of descriptors.
  static constexpr std::size_t kMaxPendingJobs = 64;

  void add(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (jobs_.size() >= kMaxPendingJobs) {
        spdlog::warn(
            "load balancer: {} flow cleanups already pending; UDP flows from namespace {} to "
            "{} are left to expire",
            jobs_.size(), job.namespaceName, job.departure.backend);
        return;
      }
      jobs_.push_back(std::move(job));
    }
    wake_.notify_all();
  }

  void waitUntilIdle() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return jobs_.empty() && !busy_; });
  }

 private:
  // Thread: takes jobs in order until stopping_.
  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) {
        return;
      }
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
      lock.unlock();
      auto deleted = deleteConntrackFlows(job.namespaceFd.get(), job.namespaceName,
                                          job.departure.vip, job.departure.backend, IPPROTO_UDP);
      if (!deleted) {
        // The rules are right; a stale UDP flow only lasts until its conntrack timeout.
        spdlog::warn("load balancer: {}", deleted.error().message);
      }
      lock.lock();
      busy_ = false;
      if (jobs_.empty()) {
        idle_.notify_all();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> jobs_;   // guarded by mutex_
  bool busy_ = false;      // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: starts once the fields above exist
};

SandboxLoadBalancers::SandboxLoadBalancers() : cleaner_(std::make_unique<FlowCleaner>()) {}

SandboxLoadBalancers::~SandboxLoadBalancers() = default;

void SandboxLoadBalancers::waitForFlowCleanup() { cleaner_->waitUntilIdle(); }

Status SandboxLoadBalancers::apply(const std::string& sandboxNamespace, const SandboxLb& lb) {
  if (auto valid = validateNamespaceName(sandboxNamespace); !valid) {
    return std::unexpected(valid.error().withContext("load balancer"));
  }
  auto id = namespaceIdOf(namespacePath(sandboxNamespace));
  if (!id) {
    applied_.erase(sandboxNamespace);
    return std::unexpected(
        id.error().withContext(fmt::format("load balancer of namespace \"{}\"", sandboxNamespace)));
  }
  auto found = applied_.find(sandboxNamespace);
  if (found == applied_.end() || found->second.id != *id) {
    return replace(sandboxNamespace, *id, lb);
  }
  auto changes = diffSandboxLb(found->second.lb, lb);
  if (changes.empty()) {
    found->second.lb = lb;  // IDs or names may differ; the rules do not
    return {};
  }
  auto counts = found->second.backendCounts;
  auto updated = found->second.nft.run(lbUpdateScript(changes, counts));
  if (updated) {
    found->second.lb = lb;
    found->second.backendCounts = std::move(counts);
    forgetUdpFlows(sandboxNamespace, changes);
    return {};
  }
  // The table is not what we remember (removed or edited by someone else): the batch
  // changed nothing, so start again from a whole table.
  spdlog::warn(
      "load balancer of namespace {}: incremental update refused ({}); replacing the "
      "table",
      sandboxNamespace, updated.error().message);
  return replace(sandboxNamespace, *id, lb);
}

Status SandboxLoadBalancers::replace(const std::string& sandboxNamespace, const NamespaceId& id,
                                     const SandboxLb& lb) {
  applied_.erase(sandboxNamespace);
  auto nft = Nftables::open(sandboxNamespace);
  if (!nft) {
    return std::unexpected(nft.error().withContext("load balancer"));
  }
  if (auto replaced = nft->run(lbReplaceScript(lb)); !replaced) {
    return std::unexpected(replaced.error().withContext("load balancer"));
  }
  applied_.emplace(sandboxNamespace, Applied{id, std::move(*nft), lb, lbBackendCounts(lb)});
  return {};
}

void SandboxLoadBalancers::forgetUdpFlows(const std::string& sandboxNamespace,
                                          const LbChanges& changes) {
  for (const auto& departure : lbDepartures(changes)) {
    auto fd = openNamespace(sandboxNamespace);
    if (!fd) {
      spdlog::warn("load balancer: forget UDP flows to {}: {}", departure.backend,
                   fd.error().message);
      return;
    }
    cleaner_->add({std::move(*fd), sandboxNamespace, departure});
  }
}

void SandboxLoadBalancers::forget(const std::string& sandboxNamespace) {
  applied_.erase(sandboxNamespace);
}

}  // namespace overmesh::dataplane::kernel
