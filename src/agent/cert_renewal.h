#pragma once

// Certificate renewal (docs/security.md): every node renews its certificate, without a
// restart, when half its lifetime has passed, or at once when it is valid for longer
// than the cluster's current certificate expiry (so that `swarm update --cert-expiry`
// with a shorter value takes effect on every node within seconds). A worker asks the
// manager (POST kRenewPath with a new key's CSR); the manager signs its own with the CA
// key. The decision (renewalDue) is pure; CertRenewalLoop runs it on a thread against
// seams that the daemon fills for a worker or a manager.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "agent/manager_client.h"
#include "agent/stop_signal.h"
#include "common/error.h"
#include "security/node_pki.h"
#include "security/pki.h"

namespace overmesh::agent {

using TimePoint = std::chrono::system_clock::time_point;

// Node certificates start this long before they were issued (pki.h: clock skew); the
// lifetime that renewal halves is the one after issue.
inline constexpr std::chrono::minutes kIssueBackdate{1};
// How often a node looks again when nothing is due: every kRenewalPoll, or every
// kShortRenewalPoll while the certificate or the cluster's expiry is below
// kShortExpiry (a test's 1-minute expiry must be noticed within seconds). A look is cheap
// (the certificate in memory, the cluster record from the cache), and a shortened
// `--cert-expiry` must take effect within one poll, so even the long poll is short.
inline constexpr std::chrono::seconds kRenewalPoll{5};
inline constexpr std::chrono::seconds kShortRenewalPoll{2};
inline constexpr std::chrono::minutes kShortExpiry{10};
// After a failed renewal.
inline constexpr std::chrono::seconds kRenewalRetry{5};

struct RenewalCheck {
  bool due = false;
  std::string reason;   // why it is due (for the log); empty when not
  TimePoint nextCheck;  // when not due: when to look again
};

// Whether `cert` should be renewed at `now`. `clusterCertExpiry` is the validity the
// cluster now gives new certificates (nullopt when unknown: only the half-life rule
// applies). A certificate valid for longer than that by more than a tolerance (5 s plus
// a twentieth of it, for clock differences between the manager and this node) is due
// at once. Never fails.
RenewalCheck renewalDue(const security::CertificateInfo& cert, TimePoint now,
                        std::optional<std::chrono::milliseconds> clusterCertExpiry);

// The cluster's certificate expiry from the cluster record's JSON (api::Cluster's
// "certExpiryMs"); nullopt when the record is absent, malformed or has no valid value
// (outside kMinCertExpiry..kMaxCertExpiry).
std::optional<std::chrono::milliseconds> certExpiryOf(std::optional<std::string_view> clusterJson);

// Checks a certificate the manager issued to this node before it is stored: its key is
// `keyPem`, it chains to `caPem` and is valid at `now`, and its subject is `nodeId`
// (and `role` when not empty). Unauthenticated naming what does not match.
Result<security::CertificateInfo> checkIssuedCertificate(const std::string& keyPem,
                                                         const std::string& certPem,
                                                         const std::string& caPem,
                                                         const std::string& nodeId,
                                                         const std::string& role, TimePoint now);

struct RenewedCertificate {
  std::string keyPem;
  std::string certPem;
};

// A worker's renewal: a new key and CSR, POST kRenewPath through `client` (the node's
// current mutual-TLS connection), and the answer checked as above against `current`'s
// CA and identity. Unavailable when the manager cannot be reached, the manager's error
// when it refuses, Unauthenticated when the answer is not a certificate for this node.
Result<RenewedCertificate> requestRenewal(ManagerClient& client,
                                          const security::NodeCredentials& current, TimePoint now);

// What the renewal loop works through.
struct CertRenewalSeams {
  // The node's credentials now (null: none yet, look again later).
  std::function<std::shared_ptr<const security::NodeCredentials>()> current;
  // The cluster's certificate expiry now (nullopt: unknown).
  std::function<std::optional<std::chrono::milliseconds>()> clusterCertExpiry;
  // Makes a new certificate and makes it current (NodePki::replace). A call to another
  // node gives up once `*stopping` is true (HttpClient's cancel flag).
  std::function<Status(const std::atomic<bool>* stopping)> renew;
  std::function<TimePoint()> now = [] { return std::chrono::system_clock::now(); };
};

class CertRenewalLoop {
 public:
  explicit CertRenewalLoop(CertRenewalSeams seams);
  ~CertRenewalLoop();
  CertRenewalLoop(const CertRenewalLoop&) = delete;
  CertRenewalLoop& operator=(const CertRenewalLoop&) = delete;

  void start();
  // Asks the thread to finish without waiting; stop() waits.
  void requestStop() { stop_.stop(); }
  void stop();

  // One pass: renews when due; returns how long to wait before the next pass. Logs a
  // failure once per distinct message (a manager down for an hour is one line).
  std::chrono::milliseconds runOnce();

 private:
  void run();

  CertRenewalSeams seams_;
  std::string lastFailure_;  // touched only by the loop's thread (or runOnce's caller)
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace overmesh::agent
