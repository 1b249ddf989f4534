#pragma once

// Joining nodes to a manager in unit tests (issue 12): a node key and CSR made here, the
// join request the daemon would send, and the CA material init returns. Shared by the
// manager's tests that join nodes (liveness, cluster security, routing mesh).

#include <string>

#include "manager/cluster_manager.h"
#include "manager/node_manager.h"
#include "security/pki.h"
#include "support/scratch.h"

namespace overmesh::testing {

// A node's key and the request that joins it from `address` (the connection's source is
// the same address unless the test changes it).
struct TestJoin {
  std::string keyPem;
  manager::JoinRequest request;
};

inline TestJoin joinRequestFor(const std::string& token, const std::string& hostname,
                               const std::string& address) {
  TestJoin join;
  join.keyPem = must(security::generateKey()).privateKeyPem;
  join.request.token = token;
  join.request.hostname = hostname;
  join.request.address = address;
  join.request.csr = must(security::makeCsr(join.keyPem, hostname));
  join.request.sourceAddress = address;
  return join;
}

}  // namespace overmesh::testing
