#include "agent/image_puller.h"

#include <spdlog/spdlog.h>

namespace overmesh::agent {
namespace {

// What the store passes on comes from a registry: bounded before it reaches a task record.
constexpr std::size_t kMaxPullText = 512;

std::string boundedPullText(const std::string& text) {
  return text.size() <= kMaxPullText ? text : text.substr(0, kMaxPullText) + "…";
}

}  // namespace

ImagePuller::ImagePuller(runtime::ImageStore& store, std::function<void()> onChange,
                         const Clock& clock, ImagePullerOptions options)
    : store_(store), onChange_(std::move(onChange)), clock_(clock), options_(options) {
  if (options_.maxConcurrentPulls == 0) {
    options_.maxConcurrentPulls = 1;
  }
  lastNotified_ = clock_.now() - options_.progressInterval;
  for (std::size_t i = 0; i < options_.maxConcurrentPulls; ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

ImagePuller::~ImagePuller() { stop(); }

ImagePullState ImagePuller::request(const std::string& reference) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(reference);
  if (found != entries_.end()) {
    const Entry& entry = found->second;
    switch (entry.state.kind) {
      case ImagePullState::Kind::Checking:
      case ImagePullState::Kind::Pulling:
      case ImagePullState::Kind::Present:
        return entry.state;
      case ImagePullState::Kind::Failed:
        if (clock_.now() - entry.state.failedAt < options_.failureHoldOff) {
          return entry.state;
        }
        break;
      case ImagePullState::Kind::Absent:
        break;
    }
  }
  if (stopping_) {
    return found == entries_.end() ? ImagePullState{} : found->second.state;
  }
  bool workerFree = running_ + queue_.size() < options_.maxConcurrentPulls;
  Entry& entry = entries_[reference];
  entry = Entry{};
  if (workerFree) {
    entry.state.kind = ImagePullState::Kind::Checking;
  } else {
    entry.state.kind = ImagePullState::Kind::Pulling;
    entry.state.progress = kWaitingForPulls;
  }
  entry.queued = true;
  queue_.push_back(reference);
  changed_.notify_all();
  return entry.state;
}

ImagePullState ImagePuller::state(const std::string& reference) const {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(reference);
  return found == entries_.end() ? ImagePullState{} : found->second.state;
}

void ImagePuller::forget(const std::string& reference) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(reference);
  if (found != entries_.end() && !found->second.queued && !found->second.running) {
    entries_.erase(found);
  }
}

void ImagePuller::retain(const std::set<std::string>& references) {
  std::lock_guard lock(mutex_);
  auto now = clock_.now();
  std::erase_if(entries_, [&](const auto& item) {
    const auto& [reference, entry] = item;
    if (references.contains(reference) || entry.queued || entry.running) {
      return false;
    }
    // A failure is kept through its hold-off even when no task asks for the image: the
    // restart policy's next task may arrive after the failed one left the agent's view.
    return entry.state.kind != ImagePullState::Kind::Failed ||
           now - entry.state.failedAt >= options_.failureHoldOff;
  });
}

bool ImagePuller::waitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return queue_.empty() && running_ == 0; });
}

void ImagePuller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cancel_ = true;  // pulls in flight end now rather than when the registry is done
    for (const auto& reference : queue_) {
      entries_.erase(reference);
    }
    queue_.clear();
  }
  changed_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) {
      worker.join();
    }
  }
}

// Thread: a pull worker; takes queued references one at a time until stop().
void ImagePuller::work() {
  while (true) {
    std::string reference;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      reference = queue_.front();
      queue_.pop_front();
      Entry& entry = entries_[reference];
      entry.queued = false;
      entry.running = true;
      ++running_;
    }
    Status result = fetch(reference);
    finish(reference, result);
  }
}

Status ImagePuller::fetch(const std::string& reference) {
  auto has = store_.has(reference);
  if (has && *has) {
    return {};
  }
  {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[reference];
    entry.state.kind = ImagePullState::Kind::Pulling;
    entry.state.progress.clear();
  }
  if (!has) {
    // The store could not say (podman restarting, say): the pull tells the real story.
    spdlog::warn("image {}: {}; pulling it", reference, has.error().message);
  } else {
    spdlog::info("image {}: pulling", reference);
  }
  return store_.pull(
      reference, [this, reference](const std::string& summary) { onProgress(reference, summary); },
      &cancel_);
}

void ImagePuller::onProgress(const std::string& reference, const std::string& summary) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      return;
    }
    auto found = entries_.find(reference);
    if (found == entries_.end()) {
      return;
    }
    found->second.latestProgress = boundedPullText(summary);
    auto now = clock_.now();
    if (now - lastNotified_ < options_.progressInterval) {
      return;
    }
    lastNotified_ = now;
    // Every running pull's progress moves at this tick: one wake shows them all.
    bool moved = false;
    for (auto& [name, entry] : entries_) {
      if (entry.running && entry.state.progress != entry.latestProgress) {
        entry.state.progress = entry.latestProgress;
        moved = true;
      }
    }
    if (!moved) {
      return;
    }
  }
  onChange_();
}

void ImagePuller::finish(const std::string& reference, const Status& result) {
  bool abandoned = false;
  {
    std::lock_guard lock(mutex_);
    abandoned = stopping_;
    if (!abandoned) {
      Entry& entry = entries_[reference];
      entry.running = false;
      entry.latestProgress.clear();
      entry.state.progress.clear();
      if (result) {
        entry.state.kind = ImagePullState::Kind::Present;
        entry.state.message.clear();
        spdlog::info("image {}: present", reference);
      } else {
        entry.state.kind = ImagePullState::Kind::Failed;
        entry.state.message = boundedPullText(result.error().message);
        entry.state.failedAt = clock_.now();
        spdlog::warn("image {}: pull failed: {}", reference, result.error().message);
      }
    }
  }
  // Abandoned (stop() has begun): nobody reads the state any more, nobody is woken.
  if (!abandoned) {
    onChange_();
  }
  // Counted out only now: waitIdle() returns after the wake of the last pull.
  std::lock_guard lock(mutex_);
  --running_;
  changed_.notify_all();
}

}  // namespace overmesh::agent
