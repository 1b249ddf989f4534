#include "store/etcd/etcd_gateway.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include "common/quote.h"
#include "store/etcd/etcd_codec.h"

namespace overmesh::store::etcd {
namespace {

// How many idle handles the pool keeps (more are cleaned up when returned).
constexpr std::size_t kIdleEtcdHandles = 8;

void initCurlOnce() {
  // curl_global_init is not thread-safe and must run before any handle exists.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// True when libcurl failed before any byte of the request could have reached the server,
// so resending a write elsewhere cannot apply it twice.
bool failedBeforeSending(CURLcode code) {
  return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
         code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_SSL_CONNECT_ERROR ||
         code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CACERT_BADFILE ||
         code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_UNSUPPORTED_PROTOCOL;
}

}  // namespace

std::size_t appendBoundedBody(char* data, std::size_t size, std::size_t count, void* sink) {
  auto* body = static_cast<BoundedBody*>(sink);
  std::size_t bytes = size * count;
  if (body->data.size() + bytes > kMaxEtcdAnswerBytes) {
    body->overflowed = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  body->data.append(data, bytes);
  return bytes;
}

Gateway::Gateway(GatewayOptions options) : options_(std::move(options)) { initCurlOnce(); }

Gateway::~Gateway() {
  for (CURL* curl : idle_) {
    curl_easy_cleanup(curl);
  }
}

std::string Gateway::url(std::size_t index, std::string_view path) const {
  return fmt::format("{}://{}{}", options_.caFile.empty() ? "http" : "https",
                     options_.endpoints[index], path);
}

void Gateway::configureHandle(CURL* curl) const {
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  // Notices an etcd host that vanished while a stream was idle.
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 5L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 2L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.requestTimeout.count()));
  if (!options_.caFile.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.caFile.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options_.certFile.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, options_.keyFile.c_str());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  }
}

CURL* Gateway::takeHandle() {
  {
    std::lock_guard lock(poolMu_);
    if (!idle_.empty()) {
      CURL* curl = idle_.back();
      idle_.pop_back();
      return curl;
    }
  }
  return curl_easy_init();
}

void Gateway::returnHandle(CURL* curl) {
  {
    std::lock_guard lock(poolMu_);
    if (idle_.size() < kIdleEtcdHandles) {
      idle_.push_back(curl);
      return;
    }
  }
  curl_easy_cleanup(curl);
}

Result<GatewayAnswer> Gateway::post(std::string_view path, const std::string& body, Resend resend) {
  if (options_.endpoints.empty()) {
    return errorf(ErrorKind::InvalidArgument, "etcd: no endpoint configured");
  }
  CURL* curl = takeHandle();
  if (curl == nullptr) {
    return errorf(ErrorKind::Internal, "etcd: curl_easy_init failed");
  }
  std::vector<std::string> tried;
  std::size_t start = preferred();
  Result<GatewayAnswer> outcome = errorf(ErrorKind::Unavailable, "etcd: not tried");
  bool done = false;
  // One deadline for the whole call, however many endpoints it tries: a caller (the leader
  // renewing its lease) must get an answer within requestTimeout, not one per endpoint.
  const auto deadline = std::chrono::steady_clock::now() + options_.requestTimeout;
  for (std::size_t step = 0; step < endpointCount() && !done; ++step) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      tried.push_back(fmt::format("{} (not tried: the call's {} ms were spent)",
                                  options_.endpoints[(start + step) % endpointCount()],
                                  options_.requestTimeout.count()));
      continue;
    }
    std::size_t index = (start + step) % endpointCount();
    std::string target = url(index, path);
    BoundedBody sink;
    char errorBuffer[CURL_ERROR_SIZE] = {};
    curl_easy_reset(curl);  // keeps the handle's connection cache (keep-alive)
    configureHandle(curl);
    curl_easy_setopt(curl, CURLOPT_URL, target.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &appendBoundedBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errorBuffer);
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    const std::string& name = options_.endpoints[index];
    if (code != CURLE_OK) {
      std::string why =
          sink.overflowed
              ? fmt::format("answer over {} bytes", kMaxEtcdAnswerBytes)
              : printable(errorBuffer[0] != '\0' ? errorBuffer : curl_easy_strerror(code));
      tried.push_back(fmt::format("{} ({})", name, why));
      if (resend == Resend::BeforeSending && !failedBeforeSending(code)) {
        outcome =
            errorf(ErrorKind::Unavailable,
                   "etcd {} {}: {}; the write may or may not have been applied", name, path, why);
        done = true;
      }
      continue;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
      GatewayError error = decodeGatewayError(sink.data);
      bool unavailable = error.code == static_cast<int>(GrpcCode::Unavailable) ||
                         (error.code == 0 && status >= 500);
      if (unavailable &&
          (resend == Resend::Always || error.message.find("no leader") != std::string::npos)) {
        tried.push_back(fmt::format("{} (HTTP {}: {})", name, status, error.message));
        continue;
      }
    }
    prefer(index);
    outcome = GatewayAnswer{status, std::move(sink.data), name};
    done = true;
  }
  returnHandle(curl);
  if (!done) {
    return errorf(ErrorKind::Unavailable, "etcd {}: no endpoint answered: {}", path,
                  fmt::join(tried, ", "));
  }
  return outcome;
}

}  // namespace overmesh::store::etcd
