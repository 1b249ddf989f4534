#pragma once

// The embedded resolver's answers as an immutable index: which names exist on which
// network and what they resolve to right now. Pure: built from the cluster state the agent
// caches (networks, services, tasks, nodes), no I/O, unit-tested without root. The agent
// rebuilds it after every cache change and hands the new one to the server
// (EmbeddedDns::setDirectory); a lookup never blocks a rebuild and never sees half of one.
//
// Names, per network (all lowercase, compared case-insensitively, trailing dot optional):
//   <service>, <alias>            -> the service's VIP on that network (endpoint mode vip),
//                                    or its live task addresses (dnsrr), shuffled
//   tasks.<service>, tasks.<alias> -> the live task addresses, shuffled
//   <task name>                   -> that task's address on that network (the task name is
//                                    also its hostname)
//   <any of these>.<network name> -> the same, qualified by the network
// "Live" is state::isLive (running, healthy when checked, node ready): the one definition
// the load balancer uses too.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"

namespace overmesh::dns {

// Time to live of the answers, in seconds.
// Task addresses (dnsrr, tasks.X, task names) change whenever a replica starts, stops or
// fails its health check; a task leaves DNS only a short drain before it is stopped, so a
// cached answer must expire within that drain: 1 s keeps a stale answer alive for at most
// one second while still letting a client that resolves in a tight loop hit its cache.
inline constexpr std::uint32_t kTaskTtlSeconds = 1;
// A VIP is stable for the service's whole life and only released on `service rm`, after
// which IPAM may give it to another service; 5 s bounds that window to a few seconds, as
// the issue asks, and costs nothing (the VIP never moves while the service exists).
inline constexpr std::uint32_t kVipTtlSeconds = 5;

// A source of randomness for shuffling answers; injected so tests can fix the order.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual std::uint64_t next() = 0;
};

// Fast non-cryptographic generator (splitmix64) for answer order: unpredictability is not
// a goal, only spreading clients over replicas.
class SplitMixRandom final : public RandomSource {
 public:
  explicit SplitMixRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() override;

 private:
  std::uint64_t state_;
};

enum class LookupKind {
  Found,     // addresses holds at least one IPv4 address
  // The name is ours but has no IPv4 address right now (e.g. every replica is down or
  // unhealthy): answered NOERROR with no records. Docker answers NXDOMAIN here; we do not,
  // because NXDOMAIN says the name does not exist, which negative caches (RFC 2308) and
  // applications take as final ("unknown host" rather than "try again"), and it is the
  // same answer a typo gets. NODATA is what a name that exists without an A record is,
  // and the empty AAAA answer for known names already says so.
  NoData,
  NotFound,  // the name would be ours (a single label, or <x>.<one of the asker's networks>)
             // but nothing has it: NXDOMAIN, never forwarded (it would leak cluster names
             // and wait for upstream timeouts)
  Forward,   // not ours: ask the node's resolvers
};

struct LookupResult {
  LookupKind kind = LookupKind::Forward;
  std::uint32_t ttl = 0;
};

class DnsDirectory {
 public:
  // Builds the index. O(total records): every service attachment, alias and task attachment
  // is visited a constant number of times. Entries that cannot be used are skipped, never
  // fatal: a VIP or task address that is not a dotted quad (optionally with /len), a name
  // that is not a valid DNS name (labels of 1-63 letters, digits, '-' or '_', 253 in all).
  // A name claimed twice on one network keeps the first claim, in this order: service
  // names and aliases, tasks.X, task names; within a kind, input order (the Store lists by
  // ID). Sorting instead would make a rebuild O(n log n) for a tie nobody should create.
  static std::shared_ptr<const DnsDirectory> build(const std::vector<api::Network>& networks,
                                                   const std::vector<api::Service>& services,
                                                   const std::vector<api::Task>& tasks,
                                                   const std::vector<api::Node>& nodes);

  // Looks `name` up on the networks `networkIds` (the asking sandbox's, eth0's first) and
  // answers from the first of them that knows the name. `name` is in presentation form
  // ("Web.", "tasks.web.frontend"), any case, trailing dot optional. On Found the addresses
  // (host-order IPv4 values) replace the contents of `addresses`, shuffled with `random`
  // when the name stands for a set of tasks. Never fails; O(networkIds) hash lookups.
  LookupResult lookup(std::string_view name, std::span<const std::string> networkIds,
                      RandomSource& random, std::vector<std::uint32_t>& addresses) const;

  // The number of names indexed over all networks (for logs and tests).
  std::size_t size() const;

  struct Record {
    std::vector<std::uint32_t> addresses;
    std::uint32_t ttl = 0;
    bool shuffle = false;
  };

 private:
  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  using RecordMap = std::unordered_map<std::string, Record, TransparentHash, std::equal_to<>>;
  struct NetworkIndex {
    std::string name;  // lowercase
    RecordMap records;
  };
  using NetworkMap =
      std::unordered_map<std::string, NetworkIndex, TransparentHash, std::equal_to<>>;

  friend class DirectoryBuilder;
  NetworkMap networks_;
};

}  // namespace overmesh::dns
