#pragma once

// libcurl settings of an https HttpClient (api/tls.h): TLS 1.3 only, the cluster CA as
// the only trust anchor, the server's certificate checked for the configured DNS name
// while connecting to the endpoint's address, the client certificate from memory, and
// our ALPN (kClusterAlpn or kJoinAlpn) instead of libcurl's.

#include <curl/curl.h>

#include <string>

#include "api/tls.h"
#include "common/error.h"

namespace overmesh::api {

struct TlsTarget {
  std::string baseUrl;    // https://<serverName or host>:PORT
  std::string connectTo;  // "<serverName>:PORT:<host>:PORT", empty without a serverName
};

// Where a TLS client for `endpoint` ("tcp://HOST:PORT") sends its requests.
// InvalidArgument for any other endpoint form, or for a configuration that cannot work
// (a client certificate without its key, skipServerVerification with a certificate, a
// verifying client without a CA, a sourceAddress that is not IPv4).
Result<TlsTarget> tlsTarget(const std::string& endpoint, const TlsClientConfig& config);

// What applyTlsOptions() hands libcurl that must outlive the transfer.
struct TlsCurlOptions {
  curl_slist* connectTo = nullptr;
  TlsCurlOptions() = default;
  TlsCurlOptions(const TlsCurlOptions&) = delete;
  TlsCurlOptions& operator=(const TlsCurlOptions&) = delete;
  ~TlsCurlOptions() { curl_slist_free_all(connectTo); }
};

// Sets the TLS options of one transfer on `curl` (after curl_easy_reset). `config` must
// outlive the transfer (the SSL_CTX callback reads it).
void applyTlsOptions(CURL* curl, const TlsClientConfig& config, const std::string& connectTo,
                     TlsCurlOptions& keep);

// Whether a failed transfer failed in TLS: the handshake, the server's certificate, or
// an alert the server sent after it (in TLS 1.3 a refused client certificate shows up
// on the first read).
bool isTlsFailure(CURLcode code, const std::string& detail);

}  // namespace overmesh::api
