#include "api/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "api/tls_client_setup.h"
#include "common/quote.h"

namespace overmesh::api {
namespace {

// curl_global_init is not thread-safe and must run once before any handle exists.
void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct ResponseSink {
  std::string body;
  std::size_t limit = 0;
  bool tooLarge = false;
  const std::function<void(std::string_view)>* observer = nullptr;
};

// Returning less than given makes libcurl abort the transfer (CURLE_WRITE_ERROR).
size_t appendBody(char* data, size_t size, size_t count, void* userData) {
  auto* sink = static_cast<ResponseSink*>(userData);
  std::size_t bytes = size * count;
  if (sink->body.size() + bytes > sink->limit) {
    sink->tooLarge = true;
    std::string().swap(sink->body);
    return 0;
  }
  sink->body.append(data, bytes);
  if (sink->observer != nullptr && *sink->observer) {
    (*sink->observer)(std::string_view(data, bytes));
  }
  return bytes;
}

// libcurl calls this about every 100 ms during a transfer; non-zero aborts it.
int checkCancel(void* userData, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(userData);
  return cancel != nullptr && cancel->load() ? 1 : 0;
}

}  // namespace

std::string formatDuration(std::chrono::milliseconds duration) {
  auto ms = duration.count();
  if (ms % 1000 == 0) {
    return fmt::format("{}s", ms / 1000);
  }
  if (ms >= 1000) {
    return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  }
  return fmt::format("{}ms", ms);
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(const std::string& endpoint) {
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kTcp = "tcp://";
  constexpr std::string_view kHttp = "http://";
  std::string unixPath;
  std::string baseUrl;
  if (endpoint.starts_with(kUnix) && endpoint.size() > kUnix.size()) {
    unixPath = endpoint.substr(kUnix.size());
    baseUrl = "http://localhost";
  } else if (endpoint.starts_with(kTcp) && endpoint.size() > kTcp.size()) {
    baseUrl = "http://" + endpoint.substr(kTcp.size());
  } else if (endpoint.starts_with(kHttp) && endpoint.size() > kHttp.size()) {
    baseUrl = endpoint;
  } else {
    return errorf(ErrorKind::InvalidArgument,
                  "host {} is not valid: use unix:///path/to/overmesh.sock or tcp://IP:PORT",
                  endpoint);
  }
  initCurlOnce();
  auto client = std::unique_ptr<HttpClient>(new HttpClient(endpoint, unixPath, baseUrl));
  if (client->curl_ == nullptr) {
    return errorf(ErrorKind::Internal, "curl_easy_init failed");
  }
  return client;
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(
    const std::string& endpoint, std::shared_ptr<const TlsClientConfig> tls) {
  if (tls == nullptr) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS client for {}: no TLS configuration given", endpoint);
  }
  auto target = tlsTarget(endpoint, *tls);
  if (!target) {
    return std::unexpected(target.error());
  }
  initCurlOnce();
  auto client = std::unique_ptr<HttpClient>(new HttpClient(endpoint, "", target->baseUrl));
  if (client->curl_ == nullptr) {
    return errorf(ErrorKind::Internal, "curl_easy_init failed");
  }
  client->connectTo_ = target->connectTo;
  client->tls_ = std::move(tls);
  return client;
}

HttpClient::HttpClient(std::string endpoint, std::string unixPath, std::string baseUrl)
    : endpoint_(std::move(endpoint)),
      unixPath_(std::move(unixPath)),
      baseUrl_(std::move(baseUrl)),
      curl_(curl_easy_init()) {}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) {
    curl_easy_cleanup(static_cast<CURL*>(curl_));
  }
}

Result<HttpResponse> HttpClient::request(const std::string& method, const std::string& path,
                                         const std::string& body,
                                         std::chrono::milliseconds timeout,
                                         const std::map<std::string, std::string>& headers) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);
  std::string url = baseUrl_ + path;
  ResponseSink sink;
  sink.limit = responseLimit_;
  sink.observer = &observer_;
  lastFailure_ = Failure::None;
  char errorBuffer[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!unixPath_.empty()) {
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, unixPath_.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  // 0 = no limit for libcurl too.
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  std::int64_t connectMs = timeout.count() > 0 ? std::min<std::int64_t>(timeout.count(), 5000)
                                               : 5000;
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connectMs));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errorBuffer);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  // A request without a timeout (a long exec) must still notice a peer that vanished.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 10L);
  TlsCurlOptions tlsOptions;
  if (tls_ != nullptr) {
    applyTlsOptions(curl, *tls_, connectTo_, tlsOptions);
  }
  if (cancel_ != nullptr) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &checkCancel);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel_));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> upload(nullptr, &std::fclose);
  if (!bodyFile_.empty()) {
    std::string file = std::exchange(bodyFile_, std::string());
    upload.reset(std::fopen(file.c_str(), "rb"));
    if (upload == nullptr) {
      return errorf(ErrorKind::Unavailable, "{} {}: open {}: {}", method,
                    printable(path, kQuotedMax), file, std::strerror(errno));
    }
    std::fseek(upload.get(), 0, SEEK_END);
    long size = std::ftell(upload.get());
    std::rewind(upload.get());
    // The default read function reads from the FILE* given as READDATA.
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_READDATA, upload.get());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  } else if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* headerList = curl_slist_append(nullptr, "Content-Type: application/json");
  headerList = curl_slist_append(headerList, "Expect:");
  for (const auto& [name, value] : headers) {
    headerList = curl_slist_append(headerList, (name + ": " + value).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headerList);

  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headerList);
  if (code != CURLE_OK) {
    std::string detail = errorBuffer[0] != '\0' ? errorBuffer : curl_easy_strerror(code);
    // Connected or not decides what to tell the user: a daemon that was reached is running.
    // (a request was sent, so a connection existed).
    long requestBytes = 0;
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &requestBytes);
    bool connected = requestBytes > 0;
    if (sink.tooLarge) {
      lastFailure_ = Failure::TooLarge;
      return errorf(ErrorKind::Unavailable,
                    "{} {}: the answer from {} exceeds the limit of {} bytes; nothing more was "
                    "read",
                    method, printable(path, kQuotedMax), endpoint_, responseLimit_);
    }
    if (code == CURLE_OPERATION_TIMEDOUT && connected) {
      lastFailure_ = Failure::Timeout;
      return errorf(ErrorKind::Unavailable, "{} {}: no answer from overmeshd at {} after {}",
                    method, printable(path, kQuotedMax), endpoint_, formatDuration(timeout));
    }
    if (tls_ != nullptr && isTlsFailure(code, detail)) {
      // Also after the request went out: in TLS 1.3 the server judges the client's
      // certificate after the client considers the handshake done.
      lastFailure_ = Failure::Connect;
      return errorf(ErrorKind::Unavailable, "the TLS handshake with {} failed: {}", endpoint_,
                    detail);
    }
    if (code == CURLE_ABORTED_BY_CALLBACK) {
      lastFailure_ = Failure::Other;
      return errorf(ErrorKind::Unavailable, "{} {} to {}: cancelled (shutting down)", method,
                    printable(path, kQuotedMax), endpoint_);
    }
    if (connected) {
      lastFailure_ = Failure::Other;
      return errorf(ErrorKind::Unavailable, "{} {}: the connection to overmeshd at {} failed: {}",
                    method, printable(path, kQuotedMax), endpoint_, detail);
    }
    lastFailure_ = Failure::Connect;
    return errorf(ErrorKind::Unavailable, "cannot reach overmeshd at {}: {}", endpoint_, detail);
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return HttpResponse{static_cast<int>(status), std::move(sink.body), "application/json"};
}

}  // namespace overmesh::api

