#pragma once

// An ImageResolver that answers from a table (reference as "domain/path:tag" -> digest or
// error) and records each call, for ServiceManager tests without a registry.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "manager/image_resolver.h"

namespace overmesh::testing {

class FakeImageResolver : public manager::ImageResolver {
 public:
  void answer(const std::string& reference, std::string digest) {
    std::lock_guard lock(mutex_);
    answers_[reference] = std::move(digest);
  }

  // Runs `hook` at the start of every resolution, with no lock of the fake held: a test
  // changes the cluster while the code under test is busy with the registry.
  void onResolve(std::function<void()> hook) { hook_ = std::move(hook); }

  Result<std::string> resolveDigest(const ImageReference& reference,
                                    const api::RegistrySettings& settings) override {
    if (hook_) {
      hook_();
    }
    std::lock_guard lock(mutex_);
    std::string key = reference.name() + ":" + reference.tag;
    calls_.push_back(key);
    lastSettings_ = settings;
    auto it = answers_.find(key);
    if (it == answers_.end()) {
      return errorf(ErrorKind::Unavailable, "{}: manifest unknown", key);
    }
    return it->second;
  }

  std::vector<std::string> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  api::RegistrySettings lastSettings() const {
    std::lock_guard lock(mutex_);
    return lastSettings_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> answers_;  // guarded by mutex_
  std::vector<std::string> calls_;              // guarded by mutex_
  api::RegistrySettings lastSettings_;          // guarded by mutex_
  std::function<void()> hook_;                  // set before use, then only read
};

}  // namespace overmesh::testing
