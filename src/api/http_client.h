#pragma once

// An HTTP/1.1 client for the REST API over a unix socket or TCP, built on libcurl
// (cpp-httplib 0.11 in Debian 12 cannot connect to a unix socket).
//
// One HttpClient keeps one connection alive between requests; it is not thread-safe:
// give each thread its own.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "api/tls.h"
#include "common/error.h"

namespace overmesh::api {

// What a response body may hold by default: the largest answer we send is a task's
// logs or exec output (a few MiB as base64), far below this.
inline constexpr std::size_t kMaxResponseBody = 64 * 1024 * 1024;

// No timeout: the request waits as long as the server takes (exec of a long command).
inline constexpr std::chrono::milliseconds kNoTimeout{0};

class HttpClient {
 public:
  // Why the last request failed, so that a caller says "is overmeshd running?" only
  // when it could not connect at all.
  enum class Failure { None, Connect, Timeout, TooLarge, Other };

  // `endpoint` is "unix:///path/to.sock" or "tcp://HOST:PORT". Fails with
  // InvalidArgument for any other form, naming the accepted ones.
  static Result<std::unique_ptr<HttpClient>> create(const std::string& endpoint);
  // The same over TLS 1.3 (api/tls.h): `endpoint` is "tcp://HOST:PORT"; the server's
  // certificate must chain to tls->caPem and carry tls->serverName (unless
  // skipServerVerification), and the client presents tls's certificate. Kept alive
  // between requests like a plain one. InvalidArgument for a unix endpoint.
  static Result<std::unique_ptr<HttpClient>> create(const std::string& endpoint,
                                                    std::shared_ptr<const TlsClientConfig> tls);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and returns the response whatever its status. Fails with
  // Unavailable when the server cannot be reached ("cannot reach ... at ENDPOINT"), when
  // `timeout` passes after connecting ("METHOD PATH: no answer from ENDPOINT after 30s"),
  // or when the response body exceeds the cap (setResponseLimit). timeout 0 (kNoTimeout)
  // waits without limit; connecting still gives up after 5 s.
  Result<HttpResponse> request(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               std::chrono::milliseconds timeout = std::chrono::seconds(30),
                               const std::map<std::string, std::string>& headers = {});

  const std::string& endpoint() const { return endpoint_; }
  // The TLS configuration this client was made with (null for a plain one): a caller
  // compares it with its source's current one to know when to rebuild the client.
  const std::shared_ptr<const TlsClientConfig>& tls() const { return tls_; }
  Failure lastFailure() const { return lastFailure_; }

  // The most a response body may hold; a longer one fails the request (Unavailable).
  void setResponseLimit(std::size_t bytes) { responseLimit_ = bytes; }

  // While `*cancel` is true, requests in flight abort (within ~100 ms) and fail with
  // Unavailable: how a long-poll is cut short at shutdown. nullptr = never.
  void setCancelFlag(const std::atomic<bool>* cancel) { cancel_ = cancel; }

  // Called with each piece of a response body as it arrives (the body is still collected
  // and returned): how a caller follows a streamed answer (podman's pull progress). It
  // must not throw. Empty = none.
  void setBodyObserver(std::function<void(std::string_view)> observer) {
    observer_ = std::move(observer);
  }

  // The next request() sends the content of the file at `path` as its body (read while
  // sending, never held whole in memory) instead of `body`; then the setting is cleared.
  // The request fails with Unavailable when the file cannot be opened.
  void setBodyFile(std::string path) { bodyFile_ = std::move(path); }

 private:
  HttpClient(std::string endpoint, std::string unixPath, std::string baseUrl);

  std::string endpoint_;
  std::string unixPath_;  // empty for TCP
  std::string baseUrl_;
  void* curl_ = nullptr;  // CURL*, reused so that keep-alive works
  const std::atomic<bool>* cancel_ = nullptr;
  std::function<void(std::string_view)> observer_;
  std::string bodyFile_;
  std::size_t responseLimit_ = kMaxResponseBody;
  std::shared_ptr<const TlsClientConfig> tls_;
  // TLS: "<serverName>:PORT:<host>:PORT", so that the URL names the certificate's DNS name
  // while the connection goes to the real address (CURLOPT_CONNECT_TO). Empty otherwise.
  std::string connectTo_;
  Failure lastFailure_ = Failure::None;
};

// "30s", "1.5s", "250ms": a duration as an error message shows it.
std::string formatDuration(std::chrono::milliseconds duration);

}  // namespace overmesh::api
