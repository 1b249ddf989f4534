#include "manager/watch_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

#include "api/api_error.h"
#include "common/json.h"
#include "state/agent_view.h"
#include "state/keys.h"
#include "store/wire.h"

namespace overmesh::manager {
namespace {

// The revision an event belongs to (a delete carries the deletion's revision).
store::Revision revisionOf(const store::Event& event) { return event.kv.modRevision; }

WatchAnswer encode(const store::WatchResult& result) {
  try {
    return std::make_shared<const api::HttpResponse>(
        api::HttpResponse{200, dumpJson(store::toJson(result))});
  } catch (const std::exception& error) {
    // A bug, or memory: the waiter gets a 500 rather than the follower thread dying.
    return std::make_shared<const api::HttpResponse>(api::errorResponse(Error{
        ErrorKind::Internal, fmt::format("watch: cannot encode the answer: {}", error.what())}));
  }
}

WatchAnswer errorAnswer(const Error& error) {
  return std::make_shared<const api::HttpResponse>(api::errorResponse(error));
}

// Pause after a store error that may pass (a busy database), so the follower does not spin.
constexpr std::chrono::milliseconds kRetryPause{100};

}  // namespace

WatchHub::WatchHub(store::Store& store, WatchHubOptions options)
    : store_(store), options_(options) {}

WatchHub::~WatchHub() { stop(); }

Status WatchHub::start() {
  auto current = store_.currentRevision();
  if (!current) {
    return std::unexpected(current.error().withContext("watch hub: read the store's revision"));
  }
  {
    std::lock_guard lock(mutex_);
    if (started_ || failed_) {
      return errorf(ErrorKind::FailedPrecondition, "watch hub: start() was already called");
    }
    started_ = true;
    ringStart_ = *current + 1;
    next_ = *current + 1;
  }
  follower_ = std::thread([this] { follow(); });
  timer_ = std::thread([this] { runTimer(); });
  return {};
}

void WatchHub::stop() {
  std::vector<Ready> wake;
  {
    std::lock_guard lock(mutex_);
    if (!failed_) {
      failLocked(Error{ErrorKind::Unavailable,
                       "watch: the manager is stopping; resume the watch on a manager"},
                 wake);
    }
  }
  timerWake_.notify_all();
  deliver(wake);
  if (follower_.joinable()) {
    follower_.join();
  }
  if (timer_.joinable()) {
    timer_.join();
  }
}

void WatchHub::watch(store::Revision from, std::chrono::milliseconds wait, WatchWaiter waiter) {
  WatchAnswer answer;
  bool fromStore = false;
  {
    std::lock_guard lock(mutex_);
    if (failed_) {
      answer = errorAnswer(*failed_);
    } else if (!started_) {
      answer = errorAnswer(Error{ErrorKind::Unavailable,
                                 "watch: the manager's watch stream is not running yet; retry"});
    } else if (from < ringStart_) {
      fromStore = true;
      ++storeReads_;
    } else if (hasEventsFromLocked(from)) {
      answer = eventsAnswerLocked(from);
    } else if (wait.count() <= 0) {
      answer = emptyAnswerLocked(from);
    } else {
      Key key{from, nextId_++};
      auto deadline = std::chrono::steady_clock::now() + wait;
      bool earliest = deadlines_.empty() || deadline < deadlines_.top().at;
      parked_.emplace(key, Parked{std::move(waiter), deadline});
      deadlines_.push(Deadline{deadline, key});
      if (earliest) {
        timerWake_.notify_one();
      }
      return;
    }
  }
  if (fromStore) {
    answer = readStore(from);
  }
  waiter.reply(answer);
}

WatchHubStats WatchHub::stats() const {
  std::lock_guard lock(mutex_);
  return WatchHubStats{parked_.size(), ring_.size(), ringStart_, next_, encodings_, storeReads_};
}

// Thread: the one reader of the store's event stream for every agent's watch.
void WatchHub::follow() {
  const std::string root(state::keys::kRoot);
  while (true) {
    store::Revision from = 0;
    {
      std::lock_guard lock(mutex_);
      if (failed_) {
        return;
      }
      from = next_;
    }
    auto batch = store_.watch(root, from, options_.followWait);
    std::vector<Ready> wake;
    store::Revision restartAt = 0;
    if (!batch && batch.error().kind == ErrorKind::Compacted) {
      // The store compacted past what the hub has read (it fell far behind): start again
      // at the current revision; waiters from before it read the store (Compacted).
      auto current = store_.currentRevision();
      if (current) {
        restartAt = *current + 1;
      }
    }
    {
      std::lock_guard lock(mutex_);
      if (failed_) {
        return;
      }
      if (batch) {
        appendLocked(std::move(batch->events), batch->nextRevision, wake);
      } else if (batch.error().kind == ErrorKind::Unavailable) {
        failLocked(batch.error(), wake);
      } else if (restartAt > 0) {
        spdlog::warn("watch hub: {}; restarting at revision {}", batch.error().message, restartAt);
        ring_.clear();
        ringStart_ = restartAt;
        next_ = std::max(next_, restartAt);
        cache_.clear();
        for (auto it = parked_.begin(); it != parked_.end() && it->first.first < ringStart_;) {
          wake.push_back(Ready{std::move(it->second.waiter), nullptr, it->first.first});
          it = parked_.erase(it);
        }
      } else {
        spdlog::warn("watch hub: {}; retrying", batch.error().message);
      }
    }
    deliver(wake);
    if (!batch && batch.error().kind != ErrorKind::Unavailable && restartAt == 0) {
      std::this_thread::sleep_for(kRetryPause);
    }
  }
}

// Thread: answers parked waiters when their wait ends, and drops those whose client went
// away (their responder answers nobody; dropping it frees the request).
void WatchHub::runTimer() {
  std::unique_lock lock(mutex_);
  auto nextAbandonedCheck = std::chrono::steady_clock::now() + options_.abandonedCheck;
  while (!failed_) {
    auto now = std::chrono::steady_clock::now();
    std::vector<Ready> wake;
    std::vector<WatchWaiter> dropped;
    while (!deadlines_.empty() && deadlines_.top().at <= now) {
      Key key = deadlines_.top().key;
      deadlines_.pop();
      auto it = parked_.find(key);
      if (it != parked_.end()) {
        wake.push_back(Ready{std::move(it->second.waiter), emptyAnswerLocked(key.first)});
        parked_.erase(it);
      }
    }
    if (now >= nextAbandonedCheck) {
      for (auto it = parked_.begin(); it != parked_.end();) {
        const auto& abandoned = it->second.waiter.abandoned;
        if (abandoned && abandoned()) {
          dropped.push_back(std::move(it->second.waiter));
          it = parked_.erase(it);
        } else {
          ++it;
        }
      }
      nextAbandonedCheck = now + options_.abandonedCheck;
    }
    if (!wake.empty() || !dropped.empty()) {
      lock.unlock();
      deliver(wake);
      dropped.clear();
      lock.lock();
      continue;
    }
    auto wakeAt = nextAbandonedCheck;
    if (!deadlines_.empty()) {
      wakeAt = std::min(wakeAt, deadlines_.top().at);
    }
    timerWake_.wait_until(lock, wakeAt);
  }
}

bool WatchHub::hasEventsFromLocked(store::Revision from) const {
  return !ring_.empty() && revisionOf(ring_.back()) >= from;
}

WatchAnswer WatchHub::eventsAnswerLocked(store::Revision from) {
  if (cacheRevision_ != next_) {
    cache_.clear();
    cacheRevision_ = next_;
  }
  auto& cached = cache_[from];
  if (!cached) {
    auto first = std::partition_point(
        ring_.begin(), ring_.end(), [from](const store::Event& e) { return revisionOf(e) < from; });
    store::WatchResult result;
    result.events.assign(first, ring_.end());
    result.nextRevision = next_;
    cached = encode(result);
    ++encodings_;
  }
  return cached;
}

WatchAnswer WatchHub::emptyAnswerLocked(store::Revision from) {
  if (cacheRevision_ != next_) {
    cache_.clear();
    cacheRevision_ = next_;
  }
  // Every waiter at or behind the current revision gets the same bytes: key -1.
  store::Revision nextRevision = std::max(from, next_);
  auto& cached = cache_[from > next_ ? -from : -1];
  if (!cached) {
    cached = encode(store::WatchResult{{}, nextRevision});
    ++encodings_;
  }
  return cached;
}

void WatchHub::appendLocked(std::vector<store::Event> events, store::Revision next,
                            std::vector<Ready>& wake) {
  bool appended = false;
  for (auto& event : events) {
    if (state::isAgentVisibleKey(event.kv.key)) {
      ring_.push_back(std::move(event));
      appended = true;
    }
  }
  next_ = std::max(next_, next);
  // Evict whole revisions, so the ring never answers half a transaction.
  while (ring_.size() > options_.ringEvents) {
    store::Revision oldest = revisionOf(ring_.front());
    while (!ring_.empty() && revisionOf(ring_.front()) == oldest) {
      ring_.pop_front();
    }
    ringStart_ = oldest + 1;
  }
  if (!appended || ring_.empty()) {
    return;
  }
  store::Revision newest = revisionOf(ring_.back());
  for (auto it = parked_.begin(); it != parked_.end() && it->first.first <= newest;) {
    store::Revision from = it->first.first;
    if (from < ringStart_) {
      // One batch larger than the ring pushed out events this waiter needs.
      wake.push_back(Ready{std::move(it->second.waiter), nullptr, from});
    } else {
      wake.push_back(Ready{std::move(it->second.waiter), eventsAnswerLocked(from)});
    }
    it = parked_.erase(it);
  }
  compactDeadlinesLocked();
}

void WatchHub::compactDeadlinesLocked() {
  constexpr std::size_t kSlack = 1024;
  if (deadlines_.size() <= 2 * parked_.size() + kSlack) {
    return;
  }
  std::vector<Deadline> live;
  live.reserve(parked_.size());
  for (const auto& [key, parked] : parked_) {
    live.push_back(Deadline{parked.deadline, key});
  }
  deadlines_ = decltype(deadlines_)(std::greater<>(), std::move(live));
}

void WatchHub::failLocked(const Error& error, std::vector<Ready>& wake) {
  failed_ = error;
  auto answer = errorAnswer(error);
  for (auto& [key, parked] : parked_) {
    wake.push_back(Ready{std::move(parked.waiter), answer});
  }
  parked_.clear();
  deadlines_ = {};
  timerWake_.notify_all();
}

void WatchHub::deliver(std::vector<Ready>& ready) {
  for (auto& one : ready) {
    one.waiter.reply(one.answer ? one.answer : readStore(one.storeFrom));
  }
  ready.clear();
}

WatchAnswer WatchHub::readStore(store::Revision from) {
  auto batch = state::agentWatch(store_, from, std::chrono::milliseconds(0));
  if (!batch) {
    return errorAnswer(batch.error());
  }
  return encode(*batch);
}

}  // namespace overmesh::manager
