#pragma once

// The store flags of `swarm init --store URL [--store-cacert F --store-cert F --store-key F]`
// and `swarm join --store-cacert F --store-cert F --store-key F` (issue 13), checked before
// anything is written or sent: the URL parsed (store/store_location.h), the TLS files all
// three or none, each readable, and only with an etcd store.

#include <string>
#include <string_view>

#include "api/types.h"
#include "common/error.h"
#include "store/store_location.h"

namespace overmesh::daemon {

// A manager's own etcd client files (paths on its host), as the flags give them.
struct StoreTlsFiles {
  std::string caFile;    // --store-cacert
  std::string certFile;  // --store-cert
  std::string keyFile;   // --store-key

  bool any() const { return !caFile.empty() || !certFile.empty() || !keyFile.empty(); }
};

// The store `swarm init` names. InvalidArgument naming the flag: --store that does not
// parse; TLS files with an SQLite store ("--store-cacert is for an etcd store"); a TLS
// file missing, unreadable, or given without the other two.
Result<store::StoreLocation> initStoreLocation(const api::SwarmInitRequest& request);

// TLS files given without a URL (`swarm join`'s, before the join: the store's URL comes
// with the manager's answer; overmeshd's, for a promotion): all three or none, each
// readable. InvalidArgument naming the flag, prefixed by `command`.
Status checkStoreTlsFiles(const StoreTlsFiles& files, std::string_view command);

// The store a node that joined as a manager opens: `url` from the join (or credentials)
// answer, which must name an etcd store, with the node's own TLS files. Unavailable
// naming `url` (quoted, bounded) when the manager sent something else.
Result<store::StoreLocation> joinedStoreLocation(std::string_view url, const StoreTlsFiles& files);

}  // namespace overmesh::daemon
