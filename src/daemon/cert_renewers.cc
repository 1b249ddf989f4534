#include "daemon/cert_renewers.h"

#include <mutex>

#include "daemon/tls_sources.h"
#include "state/keys.h"

namespace overmesh::daemon {

agent::CertRenewalSeams workerRenewal(security::NodePki& pki,
                                      std::shared_ptr<agent::ManagerEndpoints> managers,
                                      const std::string& sourceAddress,
                                      const agent::StateCache& cache) {
  agent::CertRenewalSeams seams;
  seams.current = [&pki] { return pki.current(); };
  seams.clusterCertExpiry = [&cache] {
    return agent::certExpiryOf(cache.value(std::string(state::keys::kCluster)));
  };
  seams.renew = [&pki,
                 tls = clientConfigSource(credentialsOf(pki),
                                          std::string(security::kManagerServerName), sourceAddress),
                 managers](const std::atomic<bool>* stopping) -> Status {
    auto current = pki.current();
    // A client per renewal: renewals are rare, and the old connection's certificate is
    // the one being replaced.
    agent::ManagerClient client(managers, tls, stopping);
    auto renewed = agent::requestRenewal(client, *current, std::chrono::system_clock::now());
    if (!renewed) {
      return std::unexpected(renewed.error());
    }
    return pki.replace(renewed->keyPem, renewed->certPem);
  };
  return seams;
}

namespace {

std::optional<std::chrono::milliseconds> storedCertExpiry(store::Store& store) {
  auto record = store.get(std::string(state::keys::kCluster));
  if (!record || !*record) {
    return std::nullopt;
  }
  return agent::certExpiryOf((*record)->value);
}

}  // namespace

Status renewWithCaKey(security::NodePki& pki, std::chrono::seconds validity, agent::TimePoint now) {
  auto current = pki.current();
  auto caKey = pki.caKey();
  if (!caKey) {
    return std::unexpected(caKey.error());
  }
  auto key = security::generateKey();
  if (!key) {
    return std::unexpected(key.error());
  }
  const auto& identity = current->cert.identity;
  auto csr = security::makeCsr(key->privateKeyPem, identity.nodeId);
  if (!csr) {
    return std::unexpected(csr.error());
  }
  auto cert = security::signNodeCertificate(security::CaMaterial{current->caCertPem, *caKey}, *csr,
                                            identity, validity, now);
  if (!cert) {
    return std::unexpected(cert.error());
  }
  auto checked = agent::checkIssuedCertificate(key->privateKeyPem, *cert, current->caCertPem,
                                               identity.nodeId, identity.role, now);
  if (!checked) {
    return std::unexpected(checked.error());
  }
  return pki.replace(key->privateKeyPem, *cert);
}

agent::CertRenewalSeams managerRenewal(security::NodePki& pki, store::Store& store) {
  agent::CertRenewalSeams seams;
  seams.current = [&pki] { return pki.current(); };
  seams.clusterCertExpiry = [&store] { return storedCertExpiry(store); };
  seams.renew = [&pki, &store](const std::atomic<bool>*) -> Status {
    auto validity = storedCertExpiry(store).value_or(
        std::chrono::duration_cast<std::chrono::milliseconds>(security::kDefaultCertExpiry));
    return renewWithCaKey(pki, std::chrono::duration_cast<std::chrono::seconds>(validity),
                          std::chrono::system_clock::now());
  };
  return seams;
}

}  // namespace overmesh::daemon
