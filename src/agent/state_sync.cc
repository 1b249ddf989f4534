#include "agent/state_sync.h"

#include <spdlog/spdlog.h>

namespace overmesh::agent {
namespace {

constexpr std::chrono::milliseconds kLongPoll{20'000};
constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kMaxRetry{2'000};

}  // namespace

StateSync::StateSync(std::unique_ptr<StateSource> source, StateCache& cache)
    : source_(std::move(source)), cache_(cache) {}

StateSync::~StateSync() { stop(); }

void StateSync::start() {
  thread_ = std::thread([this] { run(); });
}

void StateSync::stop() {
  stop_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool StateSync::connected() const {
  std::lock_guard lock(statusMutex_);
  return connected_;
}

std::string StateSync::lastError() const {
  std::lock_guard lock(statusMutex_);
  return lastError_;
}

void StateSync::recordError(const Error& error) {
  std::lock_guard lock(statusMutex_);
  if (connected_ || lastError_ != error.message) {
    spdlog::warn("state sync: {}", error.message);
  }
  connected_ = false;
  lastError_ = error.message;
}

// Thread: pulls desired state from the source into the cache until stop().
void StateSync::run() {
  bool needSnapshot = true;
  auto retry = kFirstRetry;
  while (!stop_.stopped()) {
    if (needSnapshot) {
      auto snapshot = source_->snapshot();
      if (!snapshot) {
        recordError(snapshot.error());
        stop_.sleepFor(retry);
        retry = std::min(retry * 2, kMaxRetry);
        continue;
      }
      cache_.replace(snapshot->kvs, snapshot->revision);
      needSnapshot = false;
      spdlog::info("state sync: snapshot at revision {} ({} objects)", snapshot->revision,
                   snapshot->kvs.size());
    }
    auto batch = source_->watch(cache_.revision() + 1, kLongPoll);
    if (!batch) {
      if (stop_.stopped()) {
        break;
      }
      if (batch.error().kind == ErrorKind::Compacted) {
        spdlog::info("state sync: {}; taking a new snapshot", batch.error().message);
        needSnapshot = true;
        continue;
      }
      recordError(batch.error());
      stop_.sleepFor(retry);
      retry = std::min(retry * 2, kMaxRetry);
      continue;
    }
    {
      std::lock_guard lock(statusMutex_);
      if (!connected_) {
        spdlog::info("state sync: connected at revision {}", cache_.revision());
      }
      connected_ = true;
      lastError_.clear();
    }
    retry = kFirstRetry;
    if (!batch->events.empty() || batch->nextRevision > cache_.revision() + 1) {
      cache_.apply(batch->events, batch->nextRevision);
    }
  }
}

}  // namespace overmesh::agent
