#pragma once

// The cluster's public-key infrastructure, through OpenSSL (libssl/libcrypto 3): the
// cluster CA made by `swarm init`, node keys and certificate signing requests, signing a
// node certificate, and reading what a certificate says. Pure: no files, no network; the
// clock is a parameter. Every function returns an error instead of throwing, and every
// input is treated as hostile (a CSR comes from the network): sizes are bounded, parse
// failures name what was wrong.
//
// The certificates (docs/security.md):
// - The CA: ECDSA P-256, self-signed, subject "CN=overmesh-ca-<clusterId>,O=<clusterId>",
//   basicConstraints CA:TRUE pathlen:0, keyUsage keyCertSign+cRLSign, 20 years.
// - A node: ECDSA P-256 key made on the node (its private key never leaves it), subject
//   "CN=<nodeId>,OU=<role>,O=<clusterId>", subjectAltName DNS:<nodeId> and
//   DNS:overmesh-<role> (kManagerServerName / kWorkerServerName), basicConstraints
//   CA:FALSE, keyUsage digitalSignature, extendedKeyUsage serverAuth+clientAuth, a
//   random 128-bit serial, notBefore = now - 1 min (clock skew), notAfter = now + validity.
//   The subject and SANs come from the CA's decision (NodeIdentity), never from the CSR.

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.h"

namespace overmesh::security {

using TimePoint = std::chrono::system_clock::time_point;

// The DNS names every node certificate carries for its role; a client that calls a
// manager checks the server's certificate for kManagerServerName.
inline constexpr std::string_view kManagerServerName = "overmesh-manager";
inline constexpr std::string_view kWorkerServerName = "overmesh-worker";

// Largest PEM text accepted from anywhere (a CSR or certificate of ours is < 1 KiB).
inline constexpr std::size_t kMaxPemBytes = 16 * 1024;

inline constexpr std::chrono::hours kCaValidity{24 * 365 * 20};
inline constexpr std::chrono::hours kDefaultCertExpiry{24 * 90};
// `swarm update --cert-expiry` bounds. Docker's floor is 1 h; ours is lower so that a
// test can watch renewals happen (docs/security.md says why nobody should use it).
inline constexpr std::chrono::seconds kMinCertExpiry{60};
inline constexpr std::chrono::hours kMaxCertExpiry{24 * 365 * 5};

// Who a node certificate is for: the CA's decision.
struct NodeIdentity {
  std::string nodeId;
  std::string role;  // "manager" | "worker"
  std::string clusterId;
};

// What a certificate says (inspectCertificate).
struct CertificateInfo {
  NodeIdentity identity;  // CN, OU, O of the subject (empty for a CA)
  std::string serial;     // lower-case hex
  std::string fingerprint;  // certificateFingerprint()
  TimePoint notBefore;
  TimePoint notAfter;
  bool isCa = false;
};

struct KeyPair {
  std::string privateKeyPem;  // PKCS#8, unencrypted: stored 0600 (node_pki.h)
};

struct CaMaterial {
  std::string certPem;
  std::string keyPem;
};

// A new ECDSA P-256 private key.
Result<KeyPair> generateKey();

// A CSR signed by `privateKeyPem`, subject "CN=<commonName>" (informational: the CA
// ignores it).
Result<std::string> makeCsr(std::string_view privateKeyPem, std::string_view commonName);

// A new cluster CA for `clusterId`, valid from now - 1 min for kCaValidity.
Result<CaMaterial> createCa(std::string_view clusterId, TimePoint now);

// Signs `csrPem` (its self-signature is checked; its key must be EC P-256 or Ed25519)
// as a node certificate for `who`, valid from now - 1 min to now + validity.
// InvalidArgument naming the problem when the CSR is malformed, too large, badly signed
// or of another key type; InvalidArgument when `who` has an empty field or a role other
// than manager/worker.
Result<std::string> signNodeCertificate(const CaMaterial& ca, std::string_view csrPem,
                                        const NodeIdentity& who, std::chrono::seconds validity,
                                        TimePoint now);

// Reads the first certificate of `certPem`. InvalidArgument when it is not one.
Result<CertificateInfo> inspectCertificate(std::string_view certPem);

// The SHA-256 of the certificate's DER encoding, lower-case hex (64 characters): what a
// join token pins.
Result<std::string> certificateFingerprint(std::string_view certPem);

// The one CA certificate in `pem`, re-encoded: exactly one certificate and nothing else
// but whitespace, with basicConstraints CA:TRUE. A joining node runs the manager's
// unverified CA answer through this before it computes the fingerprint, so that what it
// pins is everything it will trust (an answer "real CA + attacker's CA" would otherwise
// pass the fingerprint check and then let the attacker's certificates in).
// InvalidArgument naming what is wrong.
Result<std::string> singleCaCertificate(std::string_view pem);

// Checks that `certPem` chains to `caPem` and is valid at `now`; returns what it says.
// Unauthenticated naming the reason ("expired on …", "not signed by this cluster's CA").
Result<CertificateInfo> verifyNodeCertificate(std::string_view certPem, std::string_view caPem,
                                              TimePoint now);

// True when `privateKeyPem` is the key of `certPem` (a node checks a certificate the CA
// sent back before it stores it).
Result<bool> keyMatchesCertificate(std::string_view privateKeyPem, std::string_view certPem);

}  // namespace overmesh::security
