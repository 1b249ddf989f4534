#pragma once

// Certificates for TLS tests, made with OpenSSL directly (independent of src/security, so
// that the transport is tested on its own): a CA, and leaf certificates shaped like the
// cluster's node certificates (CN=<nodeId>, OU=<role>, O=<clusterId>, DNS and IP SANs).
// Failures throw std::runtime_error: a test helper, never product code.

#include <chrono>
#include <string>
#include <vector>

namespace overmesh::testing {

struct TestCa {
  std::string certPem;
  std::string keyPem;
};

struct TestCert {
  std::string certPem;
  std::string keyPem;
  std::string serial;  // lower-case hex, as PeerIdentity::serial shows it
};

struct TestCertSpec {
  std::string nodeId = "node-1";
  std::string role = "worker";
  std::string clusterId = "cluster-1";
  std::vector<std::string> dnsNames;     // subjectAltName DNS entries
  std::vector<std::string> ipAddresses;  // subjectAltName IP entries
  std::chrono::seconds validity{3600};
  // The extendedKeyUsage extension's value; empty leaves the extension out.
  std::string extendedKeyUsage = "serverAuth,clientAuth";
  // The keyUsage extension's value; empty leaves the extension out.
  std::string keyUsage = "critical,digitalSignature";
};

// A self-signed ECDSA P-256 CA named `name`.
TestCa makeTestCa(const std::string& name);

// A leaf certificate for `spec`, signed by `ca`, with a fresh P-256 key.
TestCert makeTestCert(const TestCa& ca, const TestCertSpec& spec);

}  // namespace overmesh::testing
