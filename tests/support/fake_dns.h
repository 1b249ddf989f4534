#pragma once

// An EmbeddedDns that records what the agent asked of it: which sandboxes are attached
// (with their networks) and each directory it was given. Thread-safe (the agent calls it
// from its reconcile thread while a test reads it).

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dns/embedded_dns.h"

namespace overmesh::testing {

class FakeEmbeddedDns final : public dns::EmbeddedDns {
 public:
  Status attachSandbox(const std::string& taskId, const std::string& netnsPath,
                       const std::vector<std::string>& networkIds) override {
    std::lock_guard lock(mutex_);
    attached_[taskId] = {netnsPath, networkIds};
    ++attaches_;
    return {};
  }
  void detachSandbox(const std::string& taskId) override {
    std::lock_guard lock(mutex_);
    attached_.erase(taskId);
  }
  void setDirectory(std::shared_ptr<const dns::DnsDirectory> directory) override {
    std::lock_guard lock(mutex_);
    directory_ = std::move(directory);
    ++directories_;
  }

  struct Attachment {
    std::string netnsPath;
    std::vector<std::string> networkIds;
  };
  std::map<std::string, Attachment> attached() const {
    std::lock_guard lock(mutex_);
    return attached_;
  }
  int attaches() const {
    std::lock_guard lock(mutex_);
    return attaches_;
  }
  int directories() const {
    std::lock_guard lock(mutex_);
    return directories_;
  }
  std::shared_ptr<const dns::DnsDirectory> directory() const {
    std::lock_guard lock(mutex_);
    return directory_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Attachment> attached_;
  std::shared_ptr<const dns::DnsDirectory> directory_;
  int attaches_ = 0;
  int directories_ = 0;
};

}  // namespace overmesh::testing
