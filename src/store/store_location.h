#pragma once

// Where a cluster keeps its state: the embedded SQLite file (the default, one manager) or
// an etcd v3 cluster shared by several managers (`swarm init --store etcd://H:P[,H:P…]`).
// Parsed from the operator's --store flag; saved in the node's state (node.json) so a
// restarted manager opens the same store, and handed to a manager that joins (its own
// TLS files are its own, given on its command line).

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace overmesh::store {

struct StoreLocation {
  enum class Kind { Sqlite, Etcd };
  Kind kind = Kind::Sqlite;
  // etcd: client endpoints as "HOST:PORT" (IPv4 dotted quad or a DNS name), in the
  // order given; at least one, at most 16, no duplicates.
  std::vector<std::string> endpoints;
  // etcd client TLS (`--store-cacert/--store-cert/--store-key`): PEM file paths, all
  // three or none. None = plain HTTP to etcd (a lab; docs/etcd.md says when that is fine).
  std::string caFile;
  std::string certFile;
  std::string keyFile;

  bool isEtcd() const { return kind == Kind::Etcd; }
  bool usesTls() const { return !caFile.empty(); }
  // "sqlite" or "etcd://h:p,h:p" (no TLS paths): what `info` and the cluster record show.
  std::string url() const;
};

// Parses `--store`: "" or "sqlite" → Sqlite; "etcd://H:P[,H:P…]" → Etcd. The port is
// required (etcd's is 2379). InvalidArgument naming the flag, the value and the valid
// forms; never echoes more than 200 bytes of it.
Result<StoreLocation> parseStoreUrl(std::string_view text);

// Checks the TLS triple: all three paths or none, each a readable file. InvalidArgument
// naming the flag (--store-cacert, --store-cert, --store-key) that is wrong.
Status checkStoreTls(const StoreLocation& location);

}  // namespace overmesh::store
