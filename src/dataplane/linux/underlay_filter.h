#pragma once

// The members-only underlay in the kernel: table inet overmesh_underlay
// (underlay_filter_rules.h) in one network namespace, through libnftables. It remembers
// the member set it last applied, so that a membership change sends only the elements that
// changed; the first apply, and any apply after a failed one, replace the table whole in one
// batch (a node that keeps its table across a daemon restart is never open in between).
//
// Needs CAP_NET_ADMIN in the namespace. Not thread-safe: one caller thread (the agent's
// underlay guard), or a mutex around it.

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/ip.h"
#include "dataplane/linux/nftables.h"
#include "dataplane/underlay_filter.h"

namespace overmesh::dataplane::kernel {

class NftUnderlayFilter final : public UnderlayFilter {
 public:
  // A filter for `ports` in /run/netns/<namespaceName>, or in the namespace of the thread
  // that first uses it when `namespaceName` is empty (the daemon's own). Opens nothing yet:
  // every method opens the nft context on first use, so a failure there is retried.
  explicit NftUnderlayFilter(UnderlayPorts ports, std::string namespaceName = "");

  Status apply(const std::set<Ipv4Address>& members) override;
  Result<bool> installed() override;
  Status remove() override;
  Result<UnderlayDropCounters> dropCounters() override;

 private:
  Result<Nftables*> nft();
  Status replace(const std::set<Ipv4Address>& members);

  UnderlayPorts ports_;
  std::string namespaceName_;
  std::optional<Nftables> nft_;
  // The members the table holds, when this instance installed it and no batch since failed.
  std::optional<std::set<Ipv4Address>> applied_;
};

// Deletes table inet overmesh_underlay in `namespaceName` ("" = the calling thread's) if it
// exists: the daemon's swarm leave, after the agent (whose guard would put it back) stopped.
Status removeUnderlayFilter(std::string_view namespaceName);

// The drop counters of the table in `namespaceName` ("" = the calling thread's). NotFound
// when there is no table.
Result<UnderlayDropCounters> readUnderlayDropCounters(std::string_view namespaceName);

}  // namespace overmesh::dataplane::kernel
