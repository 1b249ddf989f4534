#pragma once

// Certificates for tests (security, TLS, manager): a cluster CA and node credentials signed
// by it, made with the real security library (src/security/pki.h). Every helper throws via
// must() on failure, which gtest reports as a failed test.

#include <chrono>
#include <string>

#include "security/pki.h"
#include "support/scratch.h"

namespace overmesh::testing {

// A fixed instant for tests that pass `now` explicitly (2026-11-26 00:00:00 UTC).
inline security::TimePoint pkiTestNow() {
  return std::chrono::system_clock::from_time_t(1795651200);
}

struct TestNodeCredentials {
  std::string keyPem;
  std::string certPem;
};

// A node key and a certificate for (nodeId, role) signed by `ca`, valid from now - 1 min
// for `validity`.
inline TestNodeCredentials issueTestNode(const security::CaMaterial& ca, const std::string& nodeId,
                                         const std::string& role, const std::string& clusterId,
                                         security::TimePoint now = std::chrono::system_clock::now(),
                                         std::chrono::seconds validity = std::chrono::hours(24)) {
  TestNodeCredentials node;
  node.keyPem = must(security::generateKey()).privateKeyPem;
  std::string csr = must(security::makeCsr(node.keyPem, nodeId));
  node.certPem = must(security::signNodeCertificate(
      ca, csr, security::NodeIdentity{nodeId, role, clusterId}, validity, now));
  return node;
}

}  // namespace overmesh::testing
