#pragma once

// An EmbeddedDns for the agent's unit tests: sandboxes are entries in a map, the directory
// is kept, and every call is recorded in `calls` ("attach t1 /run/netns/x n1,n2",
// "detach t1", "directory"), so a test can assert which sandboxes answer DNS, on which
// networks, and what a name resolves to there (through the kept directory).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "dns/embedded_dns.h"

namespace overmesh::testing {

class FakeEmbeddedDns final : public dns::EmbeddedDns {
 public:
  struct Sandbox {
    std::string netnsPath;
    std::vector<std::string> networkIds;
  };

  std::map<std::string, Sandbox> sandboxes;  // by task ID
  std::shared_ptr<const dns::DnsDirectory> directory;
  std::vector<std::string> calls;
  // When set, attachSandbox() fails with it (and records the attempt).
  std::optional<Error> attachError;

  Status attachSandbox(const std::string& taskId, const std::string& netnsPath,
                       const std::vector<std::string>& networkIds) override {
    std::string joined;
    for (const auto& id : networkIds) {
      joined += (joined.empty() ? "" : ",") + id;
    }
    calls.push_back("attach " + taskId + " " + netnsPath + " " + joined);
    if (attachError) {
      return std::unexpected(*attachError);
    }
    sandboxes[taskId] = Sandbox{netnsPath, networkIds};
    return {};
  }

  void detachSandbox(const std::string& taskId) override {
    calls.push_back("detach " + taskId);
    sandboxes.erase(taskId);
  }

  void setDirectory(std::shared_ptr<const dns::DnsDirectory> next) override {
    calls.push_back("directory");
    directory = std::move(next);
  }

  // What `name` resolves to for the sandbox of `taskId`, as dotted quads in answer order
  // (shuffles fixed by seed 1); empty when the sandbox is not attached, no directory was
  // set, or the name has no address there.
  std::vector<std::string> resolve(const std::string& taskId, const std::string& name) const {
    auto it = sandboxes.find(taskId);
    if (it == sandboxes.end() || directory == nullptr) {
      return {};
    }
    dns::SplitMixRandom random(1);
    std::vector<std::uint32_t> values;
    std::vector<std::string> addresses;
    if (directory->lookup(name, it->second.networkIds, random, values).kind ==
        dns::LookupKind::Found) {
      for (auto value : values) {
        addresses.push_back(Ipv4Address::fromValue(value).toString());
      }
    }
    return addresses;
  }
};

}  // namespace overmesh::testing
