#include "daemon/tls_sources.h"

#include <mutex>

namespace overmesh::daemon {
namespace {

// Derives a configuration from each credentials snapshot once, and keeps handing out
// that configuration while the snapshot is current.
template <typename Config>
class PerSnapshot {
 public:
  using Make = std::function<std::shared_ptr<const Config>(const security::NodeCredentials&)>;
  PerSnapshot(CredentialsSource credentials, Make make)
      : credentials_(std::move(credentials)), make_(std::move(make)) {}

  std::shared_ptr<const Config> get() {
    auto credentials = credentials_();
    if (!credentials) {
      return nullptr;
    }
    std::lock_guard lock(mutex_);
    if (credentials != madeFrom_) {
      config_ = make_(*credentials);
      madeFrom_ = std::move(credentials);
    }
    return config_;
  }

 private:
  CredentialsSource credentials_;
  Make make_;
  std::mutex mutex_;
  std::shared_ptr<const security::NodeCredentials> madeFrom_;  // guarded by mutex_
  std::shared_ptr<const Config> config_;                       // guarded by mutex_
};

}  // namespace

api::TlsServerConfigSource serverConfigSource(CredentialsSource credentials) {
  auto cache = std::make_shared<PerSnapshot<api::TlsServerConfig>>(
      std::move(credentials), [](const security::NodeCredentials& now) {
        return std::make_shared<const api::TlsServerConfig>(
            api::TlsServerConfig{now.caCertPem, now.certPem, now.keyPem});
      });
  return [cache] { return cache->get(); };
}

std::shared_ptr<const api::TlsClientConfig> clientConfig(
    const security::NodeCredentials& credentials, std::string serverName,
    std::string sourceAddress) {
  api::TlsClientConfig config;
  config.sourceAddress = std::move(sourceAddress);
  config.caPem = credentials.caCertPem;
  config.serverName = std::move(serverName);
  config.certPem = credentials.certPem;
  config.keyPem = credentials.keyPem;
  return std::make_shared<const api::TlsClientConfig>(std::move(config));
}

api::TlsClientConfigSource clientConfigSource(CredentialsSource credentials, std::string serverName,
                                              std::string sourceAddress) {
  auto cache = std::make_shared<PerSnapshot<api::TlsClientConfig>>(
      std::move(credentials),
      [serverName = std::move(serverName),
       sourceAddress = std::move(sourceAddress)](const security::NodeCredentials& now) {
        return clientConfig(now, serverName, sourceAddress);
      });
  return [cache] { return cache->get(); };
}

CredentialsSource credentialsOf(const security::NodePki& pki) {
  return [&pki] { return pki.current(); };
}

}  // namespace overmesh::daemon
