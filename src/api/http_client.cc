#include "api/http_client.h"

#include <curl/curl.h>

#include <mutex>

namespace overmesh::api {
namespace {

// curl_global_init is not thread-safe and must run once before any handle exists.
void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t appendBody(char* data, size_t size, size_t count, void* userData) {
  static_cast<std::string*>(userData)->append(data, size * count);
  return size * count;
}

// libcurl calls this about every 100 ms during a transfer; non-zero aborts it.
int checkCancel(void* userData, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(userData);
  return cancel != nullptr && cancel->load() ? 1 : 0;
}

}  // namespace

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
  std::string responseBody;
  char errorBuffer[CURL_ERROR_SIZE] = {};

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (!unixPath_.empty()) {
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, unixPath_.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<std::int64_t>(timeout.count(), 5000)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &appendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &responseBody);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errorBuffer);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  if (cancel_ != nullptr) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &checkCancel);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(cancel_));
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
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
    return errorf(ErrorKind::Unavailable, "cannot reach overmeshd at {}: {}", endpoint_, detail);
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return HttpResponse{static_cast<int>(status), std::move(responseBody), "application/json"};
}

}  // namespace overmesh::api
