#include "manager/cert_expiry.h"

#include "security/pki.h"

namespace overmesh::manager {
namespace {

constexpr std::int64_t kMinMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(security::kMinCertExpiry).count();
constexpr std::int64_t kMaxMs =
    std::chrono::duration_cast<std::chrono::milliseconds>(security::kMaxCertExpiry).count();

}  // namespace

Status checkCertExpiry(std::int64_t ms, std::string_view flag) {
  if (ms < kMinMs || ms > kMaxMs) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} {}ms is out of range: use 1m ({}ms) to 43800h (5 years, {}ms)", flag, ms,
                  kMinMs, kMaxMs);
  }
  return {};
}

std::chrono::seconds certValidity(const api::Cluster& cluster) {
  if (cluster.certExpiryMs < kMinMs || cluster.certExpiryMs > kMaxMs) {
    return std::chrono::duration_cast<std::chrono::seconds>(security::kDefaultCertExpiry);
  }
  return std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::milliseconds(cluster.certExpiryMs));
}

}  // namespace overmesh::manager
