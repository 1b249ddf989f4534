#pragma once

// The seam between the agent's underlay guard (daemon/underlay_guard.h), which decides who
// the members are, and the kernel table that admits only them (linux/underlay_filter.h
// implements it with nftables; tests use a fake). underlay_filter_rules.h has the table.

#include <set>

#include "common/error.h"
#include "common/ip.h"
#include "dataplane/underlay_filter_rules.h"

namespace overmesh::dataplane {

class UnderlayFilter {
 public:
  virtual ~UnderlayFilter() = default;

  // Makes the member set exactly `members`. The first call of an instance replaces the
  // table whole (so a table left by an earlier daemon is reset to the current members);
  // later calls change only the elements that differ, so a call with unchanged members
  // does nothing, even when someone else deleted the table meanwhile. Fails with nft's words
  // (Unavailable, InvalidArgument); after a failure or a remove() the next call installs the
  // table whole.
  virtual Status apply(const std::set<Ipv4Address>& members) = 0;

  // Whether the table exists at all (a previous daemon's, or this one's). Unavailable when
  // the kernel cannot be asked.
  virtual Result<bool> installed() = 0;

  // Deletes the table (swarm leave): the node's VXLAN and node ports are open again, as
  // before it joined. Succeeds when there is none.
  virtual Status remove() = 0;

  // The drop counters. NotFound when the table does not exist.
  virtual Result<UnderlayDropCounters> dropCounters() = 0;
};

}  // namespace overmesh::dataplane
