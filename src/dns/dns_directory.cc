#include "dns/dns_directory.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/ip.h"
#include "state/liveness.h"

namespace overmesh::dns {

std::uint64_t SplitMixRandom::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

constexpr std::size_t kMaxNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = lowerAscii(c);
  }
  return out;
}

// A lowercase DNS name we are willing to serve: labels of 1-63 characters from
// [a-z0-9-_], at most 253 characters. Anything else could never be asked for in a way
// that matches, or could shadow names of other shapes.
bool servableName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return false;
  }
  std::size_t labelLength = 0;
  for (char c : name) {
    if (c == '.') {
      if (labelLength == 0) {
        return false;
      }
      labelLength = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++labelLength > kMaxLabelLength) {
      return false;
    }
  }
  return labelLength != 0;
}

// "10.0.0.2/24" or "10.0.0.2" -> host-order value; nullopt when malformed.
std::optional<std::uint32_t> addressValue(std::string_view text) {
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    text = text.substr(0, slash);
  }
  auto address = Ipv4Address::parse(text);
  if (!address) {
    return std::nullopt;
  }
  return address->value();
}

// Whether a task has a sandbox with its addresses in it, for its own name: it should run
// and runs on a ready node. Health is deliberately ignored: a task's own name must resolve
// while its health check is still starting (it may need its own name to become healthy),
// and a standalone task has no health to wait for. A task on a node that is not ready is
// left out like everything else of that node: the node may be gone, and its endpoints must
// leave every answer at once. Load-balanced names use isLive.
bool hasSandbox(const api::Task& task, const state::NodeReadiness& nodes) {
  return task.desiredState == "running" && task.state == "running" && nodes.ready(task.nodeId);
}

std::string serviceNetworkKey(std::string_view serviceId, std::string_view networkId) {
  std::string key;
  key.reserve(serviceId.size() + networkId.size() + 1);
  key.append(serviceId).push_back('\n');
  key.append(networkId);
  return key;
}

}  // namespace

// Fills one directory; each claim() visits a name once per network, so building is linear.
class DirectoryBuilder {
 public:
  explicit DirectoryBuilder(DnsDirectory& directory) : directory_(directory) {}

  DnsDirectory::NetworkIndex* network(const std::string& networkId) {
    auto it = directory_.networks_.find(networkId);
    return it == directory_.networks_.end() ? nullptr : &it->second;
  }

  void addNetwork(const api::Network& network) {
    auto& index = directory_.networks_[network.id];
    std::string name = lowercase(network.name);
    index.name = servableName(name) ? std::move(name) : std::string();
  }

  // Claims `name` and `name.<network>` on `index` unless taken.
  void claim(DnsDirectory::NetworkIndex& index, std::string_view name,
             const DnsDirectory::Record& record) {
    std::string key = lowercase(name);
    if (!servableName(key)) {
      return;
    }
    if (!index.name.empty()) {
      std::string qualified = key + "." + index.name;
      if (qualified.size() <= kMaxNameLength) {
        index.records.try_emplace(std::move(qualified), record);
      }
    }
    index.records.try_emplace(std::move(key), record);
  }

 private:
  DnsDirectory& directory_;
};

std::shared_ptr<const DnsDirectory> DnsDirectory::build(const std::vector<api::Network>& networks,
                                                        const std::vector<api::Service>& services,
                                                        const std::vector<api::Task>& tasks,
                                                        const std::vector<api::Node>& nodes) {
  auto directory = std::make_shared<DnsDirectory>();
  DirectoryBuilder builder(*directory);
  directory->networks_.reserve(networks.size());
  for (const auto& network : networks) {
    builder.addNetwork(network);
  }

  // Live addresses of every service on every network, in one pass over the tasks.
  state::NodeReadiness readiness(nodes);
  std::unordered_map<std::string, std::vector<std::uint32_t>> live;
  for (const auto& task : tasks) {
    if (task.serviceId.empty() || !state::isLive(task, readiness)) {
      continue;
    }
    for (const auto& attachment : task.attachments) {
      if (auto value = addressValue(attachment.address)) {
        live[serviceNetworkKey(task.serviceId, attachment.networkId)].push_back(*value);
      }
    }
  }

  // Service names and aliases first, then tasks.X: a service named like another's
  // "tasks.y" alias loses to nobody it should not.
  Record taskSet{{}, kTaskTtlSeconds, true};
  for (const auto& service : services) {
    bool dnsrr = service.spec.endpointMode == "dnsrr";
    for (const auto& attachment : service.attachments) {
      auto* index = builder.network(attachment.networkId);
      if (index == nullptr) {
        continue;
      }
      auto it = live.find(serviceNetworkKey(service.id, attachment.networkId));
      taskSet.addresses = it == live.end() ? std::vector<std::uint32_t>{} : it->second;
      Record byName;
      if (dnsrr) {
        byName = taskSet;
      } else {
        byName.ttl = kVipTtlSeconds;
        for (const auto& vip : service.vips) {
          if (vip.networkId == attachment.networkId) {
            if (auto value = addressValue(vip.address)) {
              byName.addresses.push_back(*value);
            }
            break;
          }
        }
      }
      builder.claim(*index, service.spec.name, byName);
      for (const auto& alias : attachment.aliases) {
        builder.claim(*index, alias, byName);
      }
    }
  }
  for (const auto& service : services) {
    for (const auto& attachment : service.attachments) {
      auto* index = builder.network(attachment.networkId);
      if (index == nullptr) {
        continue;
      }
      auto it = live.find(serviceNetworkKey(service.id, attachment.networkId));
      taskSet.addresses = it == live.end() ? std::vector<std::uint32_t>{} : it->second;
      builder.claim(*index, "tasks." + service.spec.name, taskSet);
      for (const auto& alias : attachment.aliases) {
        builder.claim(*index, "tasks." + alias, taskSet);
      }
    }
  }

  for (const auto& task : tasks) {
    if (!hasSandbox(task, readiness)) {
      continue;
    }
    for (const auto& attachment : task.attachments) {
      auto* index = builder.network(attachment.networkId);
      auto value = addressValue(attachment.address);
      if (index == nullptr || !value) {
        continue;
      }
      builder.claim(*index, task.name, Record{{*value}, kTaskTtlSeconds, false});
    }
  }
  return directory;
}

LookupResult DnsDirectory::lookup(std::string_view name, std::span<const std::string> networkIds,
                                  RandomSource& random,
                                  std::vector<std::uint32_t>& addresses) const {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > kMaxNameLength) {
    return {LookupKind::Forward, 0};
  }
  char buffer[kMaxNameLength];
  for (std::size_t i = 0; i < name.size(); ++i) {
    buffer[i] = lowerAscii(name[i]);
  }
  std::string_view key(buffer, name.size());

  for (const auto& networkId : networkIds) {
    auto network = networks_.find(networkId);
    if (network == networks_.end()) {
      continue;
    }
    auto record = network->second.records.find(key);
    if (record == network->second.records.end()) {
      continue;
    }
    const Record& found = record->second;
    if (found.addresses.empty()) {
      return {LookupKind::NoData, found.ttl};
    }
    addresses.assign(found.addresses.begin(), found.addresses.end());
    if (found.shuffle) {
      for (std::size_t i = addresses.size(); i > 1; --i) {
        std::swap(addresses[i - 1], addresses[random.next() % i]);
      }
    }
    return {LookupKind::Found, found.ttl};
  }

  // Not known on the asker's networks. A single label is never a public name worth asking
  // the Internet for, `tasks.<x>` is the cluster's own convention, and <x>.<network> names
  // a cluster network (the asker's or another's): all are ours to deny, so that no
  // cluster name leaks to the node's upstream resolvers and the asker gets its answer
  // at once instead of waiting for upstream timeouts.
  if (key.find('.') == std::string_view::npos || key.starts_with("tasks.")) {
    return {LookupKind::NotFound, 0};
  }
  for (const auto& [networkId, network] : networks_) {
    if (network.name.empty()) {
      continue;
    }
    const std::string& suffix = network.name;
    if (key.size() > suffix.size() + 1 && key.ends_with(suffix) &&
        key[key.size() - suffix.size() - 1] == '.') {
      return {LookupKind::NotFound, 0};
    }
  }
  return {LookupKind::Forward, 0};
}

std::size_t DnsDirectory::size() const {
  std::size_t total = 0;
  for (const auto& [id, network] : networks_) {
    total += network.records.size();
  }
  return total;
}

}  // namespace overmesh::dns
