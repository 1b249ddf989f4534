#pragma once

// An ImageStore for unit tests: images are names in a set. pull() adds the reference (or
// fails with a scripted error), after reporting the scripted progress lines; holdPulls()
// makes pull() block until releasePulls(), so that a test sees a pull in flight, counts
// how many run at once and checks that nobody waits for it. Every call that reaches the
// store is recorded in `calls` ("has REF", "pull REF", "load PATH", "remove REF").
//
// Called from the puller's workers and the test thread: every method takes the mutex;
// tests read state through the locked helpers.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/image_store.h"

namespace overmesh::testing {

class FakeImageStore final : public runtime::ImageStore {
 public:
  // The image is in the store.
  void add(const std::string& reference) {
    std::lock_guard lock(mutex_);
    images_.insert(reference);
  }
  // The next pulls of `reference` fail with `error` (until cleared with nullopt).
  void failPulls(const std::string& reference, std::optional<Error> error) {
    std::lock_guard lock(mutex_);
    if (error) {
      pullErrors_[reference] = *error;
    } else {
      pullErrors_.erase(reference);
    }
  }
  // has() fails with `error` (until cleared with nullopt).
  void failHas(std::optional<Error> error) {
    std::lock_guard lock(mutex_);
    hasError_ = std::move(error);
  }
  // What a pull reports as it goes, in order.
  void setProgress(std::vector<std::string> lines) {
    std::lock_guard lock(mutex_);
    progress_ = std::move(lines);
  }
  void holdPulls() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void releasePulls() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    changed_.notify_all();
  }
  // Waits until `count` pulls are blocked by holdPulls() (their progress reported); false
  // at the timeout.
  bool waitForHeldPulls(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return waiting_ >= count; });
  }
  std::vector<std::string> callsSoFar() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::size_t pullsOf(const std::string& reference) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count(calls_.begin(), calls_.end(), "pull " + reference));
  }
  std::size_t maxConcurrentPulls() const {
    std::lock_guard lock(mutex_);
    return maxConcurrent_;
  }
  bool contains(const std::string& reference) const {
    std::lock_guard lock(mutex_);
    return images_.contains(reference);
  }

  Result<bool> has(const std::string& reference) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("has " + reference);
    if (hasError_) {
      return std::unexpected(*hasError_);
    }
    return images_.contains(reference);
  }

  // Reports the scripted progress, then blocks while pulls are held, then ends.
  Status pull(const std::string& reference, const runtime::PullProgress& progress,
              const std::atomic<bool>* /*cancel*/ = nullptr) override {
    std::vector<std::string> lines;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back("pull " + reference);
      ++concurrent_;
      maxConcurrent_ = std::max(maxConcurrent_, concurrent_);
      lines = progress_;
    }
    for (const auto& line : lines) {
      progress(line);
    }
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !held_; });
    --waiting_;
    --concurrent_;
    if (auto failure = pullErrors_.find(reference); failure != pullErrors_.end()) {
      return std::unexpected(failure->second);
    }
    images_.insert(reference);
    return {};
  }

  Result<std::vector<runtime::ImageSummary>> list() override {
    std::lock_guard lock(mutex_);
    std::vector<runtime::ImageSummary> summaries;
    for (const auto& reference : images_) {
      runtime::ImageSummary summary;
      summary.id = std::string(64, 'a');
      summary.names = {reference};
      summaries.push_back(summary);
    }
    return summaries;
  }

  Result<std::vector<std::string>> load(const std::string& archivePath) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("load " + archivePath);
    return errorf(ErrorKind::InvalidArgument, "load {}: not an archive (fake store)", archivePath);
  }

  Status remove(const std::string& reference, bool force) override {
    std::lock_guard lock(mutex_);
    calls_.push_back("remove " + reference + (force ? " force" : ""));
    if (images_.erase(reference) == 0) {
      return errorf(ErrorKind::NotFound, "image {} not known", reference);
    }
    return {};
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> images_;
  std::map<std::string, Error> pullErrors_;
  std::optional<Error> hasError_;
  std::vector<std::string> progress_;
  std::vector<std::string> calls_;
  bool held_ = false;
  std::size_t waiting_ = 0;
  std::size_t concurrent_ = 0;
  std::size_t maxConcurrent_ = 0;
};

}  // namespace overmesh::testing
