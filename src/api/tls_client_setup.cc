#include "api/tls_client_setup.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <charconv>
#include <string_view>

namespace overmesh::api {
namespace {

// ALPN wire format: a length byte, then the name.
std::string alpnWire(std::string_view protocol) {
  std::string wire(1, static_cast<char>(protocol.size()));
  wire.append(protocol);
  return wire;
}

// libcurl calls this with the SSL_CTX of a new connection, before its SSL is made.
CURLcode setupContext(CURL* /*curl*/, void* sslContext, void* userData) {
  const auto* config = static_cast<const TlsClientConfig*>(userData);
  auto* ctx = static_cast<SSL_CTX*>(sslContext);
  std::string wire = alpnWire(config->joinAlpn ? kJoinAlpn : kClusterAlpn);
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  // 0 is success for this one.
  if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size())) != 0) {
    return CURLE_SSL_CONNECT_ERROR;
  }
  return CURLE_OK;
}

void setBlob(CURL* curl, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, option, &blob);
}

}  // namespace

Result<TlsTarget> tlsTarget(const std::string& endpoint, const TlsClientConfig& config) {
  constexpr std::string_view kTcp = "tcp://";
  std::string_view rest(endpoint);
  std::size_t colon = rest.rfind(':');
  std::uint16_t port = 0;
  bool valid = rest.starts_with(kTcp) && colon != std::string_view::npos && colon > kTcp.size();
  if (valid) {
    std::string_view portText = rest.substr(colon + 1);
    auto [end, error] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    valid = error == std::errc() && end == portText.data() + portText.size() && port != 0;
  }
  if (!valid) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS endpoint {} is not valid: use tcp://HOST:PORT (a unix socket has no TLS)",
                  endpoint);
  }
  std::string host(rest.substr(kTcp.size(), colon - kTcp.size()));
  if (config.certPem.empty() != config.keyPem.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS client for {}: a client certificate needs its key and a key its "
                  "certificate (certPem {}, keyPem {})",
                  endpoint, config.certPem.empty() ? "empty" : "set",
                  config.keyPem.empty() ? "empty" : "set");
  }
  if (config.skipServerVerification && !config.certPem.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS client for {}: skipServerVerification is only for a join's CA fetch, "
                  "never with a client certificate",
                  endpoint);
  }
  if (!config.skipServerVerification && config.caPem.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS client for {}: caPem is empty; the server's certificate cannot be "
                  "checked",
                  endpoint);
  }
  if (in_addr parsed{}; !config.sourceAddress.empty() &&
                        inet_pton(AF_INET, config.sourceAddress.c_str(), &parsed) != 1) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS client for {}: sourceAddress {} is not an IPv4 address; give the node's "
                  "advertise address, or leave it empty for the kernel's choice",
                  endpoint, config.sourceAddress);
  }
  TlsTarget target;
  std::string portText = std::to_string(port);
  if (config.serverName.empty()) {
    target.baseUrl = fmt::format("https://{}:{}", host, portText);
  } else {
    target.baseUrl = fmt::format("https://{}:{}", config.serverName, portText);
    target.connectTo = fmt::format("{}:{}:{}:{}", config.serverName, portText, host, portText);
  }
  return target;
}

void applyTlsOptions(CURL* curl, const TlsClientConfig& config, const std::string& connectTo,
                     TlsCurlOptions& keep) {
  curl_easy_setopt(
      curl, CURLOPT_SSLVERSION,
      static_cast<long>(CURL_SSLVERSION_TLSv1_3) | static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_3));
  if (!connectTo.empty()) {
    keep.connectTo = curl_slist_append(nullptr, connectTo.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, keep.connectTo);
  }
  if (!config.sourceAddress.empty()) {
    // "host!": bind to this address (never an interface name of the same spelling).
    std::string interface = "host!" + config.sourceAddress;
    curl_easy_setopt(curl, CURLOPT_INTERFACE, interface.c_str());  // libcurl copies it
  }
  // Only the cluster's CA: never the system's bundle or directory.
  curl_easy_setopt(curl, CURLOPT_CAINFO, nullptr);
  curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  if (config.skipServerVerification) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    setBlob(curl, CURLOPT_CAINFO_BLOB, config.caPem);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (!config.certPem.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    setBlob(curl, CURLOPT_SSLCERT_BLOB, config.certPem);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    setBlob(curl, CURLOPT_SSLKEY_BLOB, config.keyPem);
  }
  // libcurl would offer h2 and http/1.1 on the SSL itself, overriding the context's list.
  curl_easy_setopt(curl, CURLOPT_SSL_ENABLE_ALPN, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &setupContext);
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, const_cast<TlsClientConfig*>(&config));
}

bool isTlsFailure(CURLcode code, const std::string& detail) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_INITFAILED:
      return true;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return detail.find("alert") != std::string::npos || detail.find("SSL") != std::string::npos;
    default:
      return false;
  }
}

}  // namespace overmesh::api
