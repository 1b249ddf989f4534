#include "manager/service_reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string>

#include "common/ids.h"
#include "state/keys.h"

namespace overmesh::manager {
namespace {

constexpr std::chrono::milliseconds kCoalesce{20};

// Changes the orchestrator reads; guards, names and the cluster record do not matter.
bool matters(const store::Event& event) {
  const std::string& key = event.kv.key;
  return key.starts_with(state::keys::kNodes) || key.starts_with(state::keys::kServices) ||
         key.starts_with(state::keys::kTasks);
}

}  // namespace

ServiceReconciler::ServiceReconciler(store::Store& store, ServiceManager& services, Decide decide)
    : store_(store), services_(services), decide_(std::move(decide)) {}

ServiceReconciler::~ServiceReconciler() {
  requestStop();
  join();
}

void ServiceReconciler::start() {
  thread_ = std::thread([this] { loop(); });
}

void ServiceReconciler::requestStop() {
  {
    std::lock_guard lock(stopMutex_);
    stopping_.store(true);
  }
  stopWake_.notify_all();
}

void ServiceReconciler::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool ServiceReconciler::pause(std::chrono::milliseconds duration) {
  std::unique_lock lock(stopMutex_);
  return !stopWake_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

Result<ServiceReconciler::Pass> ServiceReconciler::runOnce() {
  auto read = services_.readView(nowMillis());
  if (!read) {
    return std::unexpected(read.error());
  }
  orchestrator::Decisions decisions = decide_(read->view);
  Pass pass{read->revision, decisions.wakeAtMs, !decisions.empty()};
  if (pass.changed) {
    spdlog::debug("orchestrator: create={} shut_down={} remove={} placement_problems={}",
                  decisions.create.size(), decisions.shutDown.size(), decisions.remove.size(),
                  decisions.placementProblems.size());
    if (auto applied = services_.apply(decisions); !applied) {
      return std::unexpected(applied.error());
    }
  }
  return pass;
}

void ServiceReconciler::waitForChange(store::Revision revision,
                                      std::optional<std::int64_t> wakeAtMs) {
  using std::chrono::milliseconds;
  std::int64_t deadlineMs = nowMillis() + kMaxIdle.count();
  if (wakeAtMs) {
    deadlineMs = std::min(deadlineMs, *wakeAtMs);
  }
  store::Revision from = revision + 1;
  while (!stopping_.load()) {
    std::int64_t remaining = deadlineMs - nowMillis();
    if (remaining <= 0) {
      return;
    }
    // Stop requests are seen within a watch slice: the store's close() wakes it too.
    auto events = store_.watch(std::string(state::keys::kRoot), from,
                               milliseconds(std::min<std::int64_t>(remaining, 250)));
    if (!events) {
      // Compacted: our revision is gone, so something changed; other errors: retry the
      // pass, which reports them.
      return;
    }
    if (std::any_of(events->events.begin(), events->events.end(), matters)) {
      // A burst (nodes joining or changing state, tasks reporting) comes as many events in
      // a few milliseconds: one pass after it settles reads the cluster once, not once per
      // event (each pass reads every node, service and task).
      pause(kCoalesce);
      return;
    }
    from = std::max(from, events->nextRevision);
  }
}

// Thread: the orchestration loop (see the class comment).
void ServiceReconciler::loop() {
  // A failure that repeats (a store that stays down) is logged once at warn, then at
  // debug until the pass succeeds or fails differently: five lines a second helps nobody.
  std::string lastProblem;
  while (!stopping_.load()) {
    try {
      auto pass = runOnce();
      if (!pass) {
        if (stopping_.load()) {
          continue;
        }
        if (pass.error().message != lastProblem) {
          spdlog::warn("orchestrator pass: {}", pass.error().message);
          lastProblem = pass.error().message;
        } else {
          spdlog::debug("orchestrator pass: {}", pass.error().message);
        }
        pause(kRetryPause);
        continue;
      }
      if (!lastProblem.empty()) {
        spdlog::info("orchestrator pass succeeds again");
        lastProblem.clear();
      }
      waitForChange(pass->revision, pass->wakeAtMs);
    } catch (const std::exception& error) {
      spdlog::error("orchestrator pass failed: {}", error.what());
      pause(kRetryPause);
    } catch (...) {
      spdlog::error("orchestrator pass failed with an unknown exception");
      pause(kRetryPause);
    }
  }
}

}  // namespace overmesh::manager
