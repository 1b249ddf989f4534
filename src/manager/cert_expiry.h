#pragma once

// The validity of node certificates (`swarm init|update --cert-expiry`): its bounds
// (security/pki.h) and how a cluster record's setting becomes a signing validity.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "api/types.h"
#include "common/error.h"

namespace overmesh::manager {

// InvalidArgument naming `flag`, the value and the bounds unless `ms` is within
// security::kMinCertExpiry..kMaxCertExpiry (1 minute to 5 years).
Status checkCertExpiry(std::int64_t ms, std::string_view flag);

// The validity to sign a node certificate with: the cluster's certExpiryMs in whole
// seconds (a record without it, or out of bounds, gets the default 90 days).
std::chrono::seconds certValidity(const api::Cluster& cluster);

}  // namespace overmesh::manager
