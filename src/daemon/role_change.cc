#include "daemon/role_change.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "agent/cert_renewal.h"
#include "agent/manager_client.h"
#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "common/json.h"
#include "daemon/tls_sources.h"
#include "security/pki.h"

namespace overmesh::daemon {
namespace {

constexpr std::chrono::seconds kCallTimeout{10};
constexpr std::size_t kMaxStoreUrl = 4096;

// One call to the manager at `address`; a 421 (not the leader) is followed once to the
// leader its answer names.
Result<std::string> callManager(security::NodePki& pki, const std::string& address,
                                const std::string& sourceAddress, const std::string& path,
                                const std::string& body, const std::atomic<bool>* stopping) {
  auto tls = clientConfigSource(credentialsOf(pki), std::string(security::kManagerServerName),
                                sourceAddress);
  std::string target = address;
  for (int hop = 0; hop < 2; ++hop) {
    agent::ManagerClient client("tcp://" + target, tls, stopping);
    auto response = client.request("POST", path, body, kCallTimeout);
    if (!response) {
      return std::unexpected(response.error());
    }
    if (api::isSuccess(*response)) {
      return std::move(response->body);
    }
    std::string leader;
    if (response->status == api::kNotLeaderStatus) {
      (void)decodeFields(
          response->body, "not-leader answer",
          [&leader](const nlohmann::json& json) { readField(json, "leader", leader); });
    }
    if (leader.empty() || leader == target || leader.size() > 64) {
      return std::unexpected(api::errorFromResponse(*response));
    }
    target = leader;
  }
  return errorf(ErrorKind::Unavailable, "{}: the managers at {} and {} both answered not-leader",
                path, address, target);
}

}  // namespace

RoleTransition decideRoleTransition(std::string_view running, std::string_view recorded) {
  if (recorded.empty() || recorded == running) {
    return RoleTransition::None;
  }
  if (recorded == "manager" && running == "worker") {
    return RoleTransition::Promote;
  }
  if (recorded == "worker" && running == "manager") {
    return RoleTransition::Demote;
  }
  return RoleTransition::None;  // a role this version does not know: leave things as they are
}

Status renewForRole(security::NodePki& pki, const std::string& managerAddress,
                    const std::string& sourceAddress, std::string_view role,
                    const std::atomic<bool>* stopping) {
  auto current = pki.current();
  const std::string& nodeId = current->cert.identity.nodeId;
  auto key = security::generateKey();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto csr = security::makeCsr(key->privateKeyPem, nodeId);
  if (!csr) {
    return std::unexpected(csr.error());
  }
  auto answer = callManager(pki, managerAddress, sourceAddress, api::kRenewPath,
                            dumpJson({{"csr", *csr}}), stopping);
  if (!answer) {
    return std::unexpected(answer.error().withContext("renew the certificate for the new role"));
  }
  std::string certPem;
  auto read = decodeFields(*answer, "renewal answer", [&certPem](const nlohmann::json& json) {
    requireField(json, "certificate", certPem);
  });
  if (!read || certPem.size() > security::kMaxPemBytes) {
    return errorf(ErrorKind::Unauthenticated, "renewal answer of {}: {}", managerAddress,
                  read ? "the certificate is too large" : read.error().message);
  }
  auto checked =
      agent::checkIssuedCertificate(key->privateKeyPem, certPem, current->caCertPem, nodeId,
                                    std::string(role), std::chrono::system_clock::now());
  if (!checked) {
    return std::unexpected(checked.error().withContext(
        fmt::format("the manager at {} did not sign a {} certificate", managerAddress, role)));
  }
  return pki.replace(key->privateKeyPem, certPem);
}

Result<ManagerCredentials> fetchManagerCredentials(security::NodePki& pki,
                                                   const std::string& managerAddress,
                                                   const std::string& sourceAddress,
                                                   const std::atomic<bool>* stopping) {
  auto answer =
      callManager(pki, managerAddress, sourceAddress, api::kManagerCredentialsPath, "{}", stopping);
  if (!answer) {
    return std::unexpected(answer.error().withContext("fetch the manager credentials"));
  }
  ManagerCredentials credentials;
  auto read = decodeFields(*answer, "manager credentials", [&](const nlohmann::json& json) {
    requireField(json, "caKey", credentials.caKeyPem);
    requireField(json, "store", credentials.storeUrl);
  });
  if (!read || credentials.caKeyPem.size() > security::kMaxPemBytes ||
      credentials.storeUrl.size() > kMaxStoreUrl) {
    return errorf(ErrorKind::Unavailable, "the manager at {} sent no usable credentials ({})",
                  managerAddress, read ? "a field is too large" : read.error().message);
  }
  return credentials;
}

}  // namespace overmesh::daemon
