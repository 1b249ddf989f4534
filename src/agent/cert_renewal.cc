#include "agent/cert_renewal.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/cluster_protocol.h"
#include "common/json.h"

namespace overmesh::agent {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::int64_t secondsOf(std::chrono::system_clock::duration duration) {
  return duration_cast<seconds>(duration).count();
}

}  // namespace

RenewalCheck renewalDue(const security::CertificateInfo& cert, TimePoint now,
                        std::optional<milliseconds> clusterCertExpiry) {
  RenewalCheck check;
  auto issued = std::min(cert.notBefore + kIssueBackdate, cert.notAfter);
  auto halfway = issued + (cert.notAfter - issued) / 2;
  auto remaining = cert.notAfter - now;
  if (now >= halfway) {
    check.due = true;
    check.reason = remaining.count() <= 0
                       ? "it has expired"
                       : fmt::format("half of its lifetime has passed ({} s of {} s left)",
                                     secondsOf(remaining), secondsOf(cert.notAfter - issued));
    return check;
  }
  if (clusterCertExpiry && clusterCertExpiry->count() > 0) {
    auto tolerance = milliseconds(seconds(5)) + *clusterCertExpiry / 20;
    if (remaining > *clusterCertExpiry + tolerance) {
      check.due = true;
      check.reason = fmt::format(
          "it is valid for {} s more, longer than the cluster's certificate expiry of {} s",
          secondsOf(remaining), secondsOf(*clusterCertExpiry));
      return check;
    }
  }
  bool shortLived = cert.notAfter - issued < kShortExpiry ||
                    (clusterCertExpiry && *clusterCertExpiry < kShortExpiry);
  auto poll = shortLived ? milliseconds(kShortRenewalPoll) : milliseconds(kRenewalPoll);
  check.nextCheck = std::min<TimePoint>(halfway, now + poll);
  return check;
}

std::optional<milliseconds> certExpiryOf(std::optional<std::string_view> clusterJson) {
  if (!clusterJson) {
    return std::nullopt;
  }
  std::int64_t expiryMs = 0;
  auto read = decodeFields(*clusterJson, "cluster record", [&expiryMs](const nlohmann::json& json) {
    readField(json, "certExpiryMs", expiryMs);
  });
  milliseconds expiry(expiryMs);
  if (!read || expiry < milliseconds(security::kMinCertExpiry) ||
      expiry > milliseconds(security::kMaxCertExpiry)) {
    return std::nullopt;
  }
  return expiry;
}

Result<security::CertificateInfo> checkIssuedCertificate(const std::string& keyPem,
                                                         const std::string& certPem,
                                                         const std::string& caPem,
                                                         const std::string& nodeId,
                                                         const std::string& role, TimePoint now) {
  auto matches = security::keyMatchesCertificate(keyPem, certPem);
  if (!matches) {
    return std::unexpected(
        Error{ErrorKind::Unauthenticated,
              fmt::format("the certificate the manager sent: {}", matches.error().message)});
  }
  if (!*matches) {
    return errorf(ErrorKind::Unauthenticated,
                  "the certificate the manager sent is not for this node's key");
  }
  auto info = security::verifyNodeCertificate(certPem, caPem, now);
  if (!info) {
    return std::unexpected(
        Error{ErrorKind::Unauthenticated,
              fmt::format("the certificate the manager sent: {}", info.error().message)});
  }
  if (info->identity.nodeId != nodeId || (!role.empty() && info->identity.role != role)) {
    return errorf(ErrorKind::Unauthenticated,
                  "the certificate the manager sent names node {} ({}), expected node {} ({})",
                  info->identity.nodeId, info->identity.role, nodeId,
                  role.empty() ? "any role" : role);
  }
  return info;
}

Result<RenewedCertificate> requestRenewal(ManagerClient& client,
                                          const security::NodeCredentials& current, TimePoint now) {
  const auto& identity = current.cert.identity;
  auto key = security::generateKey();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto csr = security::makeCsr(key->privateKeyPem, identity.nodeId);
  if (!csr) {
    return std::unexpected(csr.error());
  }
  auto answer =
      client.call("POST", api::kRenewPath, dumpJson({{"csr", *csr}}), std::chrono::seconds(10));
  if (!answer) {
    return std::unexpected(answer.error());
  }
  RenewedCertificate renewed{key->privateKeyPem, ""};
  auto read = decodeFields(*answer, "renewal answer", [&renewed](const nlohmann::json& json) {
    requireField(json, "certificate", renewed.certPem);
  });
  if (!read) {
    return std::unexpected(Error{ErrorKind::Unauthenticated, read.error().message});
  }
  if (renewed.certPem.size() > security::kMaxPemBytes) {
    return errorf(ErrorKind::Unauthenticated,
                  "renewal answer: the certificate is {} bytes, more than the {} accepted",
                  renewed.certPem.size(), security::kMaxPemBytes);
  }
  auto checked = checkIssuedCertificate(renewed.keyPem, renewed.certPem, current.caCertPem,
                                        identity.nodeId, identity.role, now);
  if (!checked) {
    return std::unexpected(checked.error());
  }
  return renewed;
}

CertRenewalLoop::CertRenewalLoop(CertRenewalSeams seams) : seams_(std::move(seams)) {}

CertRenewalLoop::~CertRenewalLoop() { stop(); }

void CertRenewalLoop::start() {
  thread_ = std::thread([this] { run(); });
}

void CertRenewalLoop::stop() {
  stop_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

milliseconds CertRenewalLoop::runOnce() {
  auto current = seams_.current();
  if (!current) {
    return kRenewalRetry;
  }
  auto now = seams_.now();
  auto check = renewalDue(current->cert, now, seams_.clusterCertExpiry());
  if (!check.due) {
    return std::clamp(duration_cast<milliseconds>(check.nextCheck - now), milliseconds(100),
                      milliseconds(kRenewalPoll));
  }
  auto renewed = seams_.renew(stop_.flag());
  if (!renewed) {
    std::string failure = renewed.error().message;
    if (failure != lastFailure_) {
      spdlog::warn("certificate renewal ({}): {}; retrying every {} s", check.reason, failure,
                   kRenewalRetry.count());
      lastFailure_ = failure;
    }
    return kRenewalRetry;
  }
  lastFailure_.clear();
  auto fresh = seams_.current();
  spdlog::info("certificate renewed ({}): serial {} valid until {} s from now", check.reason,
               fresh ? fresh->cert.serial : "?",
               fresh ? secondsOf(fresh->cert.notAfter - seams_.now()) : 0);
  // Look again soon, but never spin: a manager that keeps issuing certificates that are
  // due at once must not be asked in a tight loop.
  return milliseconds(1000);
}

// Thread: checks the node's certificate and renews it when due, until stop().
void CertRenewalLoop::run() {
  auto wait = milliseconds(0);
  while (stop_.sleepFor(wait)) {
    wait = runOnce();
  }
}

}  // namespace overmesh::agent
