#pragma once

// The HTTP side of the etcd store: POSTs to etcd's JSON gateway over libcurl, on a small
// pool of easy handles (keep-alive per handle), with one deadline per request and failover
// across the configured endpoints.
//
// Failover rule: a request goes to the endpoint that answered last; on a transport error
// (refused, unreachable, timed out, TLS failure) or an "unavailable" answer of etcd (no
// leader, request timed out inside etcd) it moves on to the next one. A write that may
// have reached etcd (anything past connecting) is not resent: its outcome is unknown, and
// resending a put would write twice; it fails with Unavailable saying so.
//
// Thread-safe: each request takes a handle from the pool.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

using CURL = void;

namespace overmesh::store::etcd {

// The most bytes one answer (or one watch stream line) may have: a bigger one is an
// error, not an allocation.
inline constexpr std::size_t kMaxEtcdAnswerBytes = 64U << 20;

struct GatewayOptions {
  std::vector<std::string> endpoints;  // "HOST:PORT"
  std::string caFile;                  // https with client certificates when set
  std::string certFile;
  std::string keyFile;
  std::chrono::milliseconds requestTimeout{3000};
};

struct GatewayAnswer {
  long status = 0;
  std::string body;
  std::string endpoint;  // which endpoint answered, for messages
};

enum class Resend {
  Always,        // reads: any endpoint may answer
  BeforeSending  // writes: only when the request surely did not reach the endpoint
};

class Gateway {
 public:
  explicit Gateway(GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // POSTs `body` to `path` (e.g. "/v3/kv/range"). Returns the first answer an endpoint
  // gave that is not an etcd "unavailable" (any other HTTP status, for the caller to
  // read). Unavailable naming each endpoint tried and why when none answered.
  Result<GatewayAnswer> post(std::string_view path, const std::string& body, Resend resend);

  // The URL of `path` on endpoint `index` (http:// or https://).
  std::string url(std::size_t index, std::string_view path) const;
  // Sets the options every handle shares: TLS files, no signals, no proxy, keep-alive.
  void configureHandle(CURL* curl) const;

  std::size_t endpointCount() const { return options_.endpoints.size(); }
  const std::string& endpoint(std::size_t index) const { return options_.endpoints[index]; }
  // The endpoint that answered last (where the next request starts).
  std::size_t preferred() const { return preferred_.load(); }
  void prefer(std::size_t index) { preferred_.store(index % endpointCount()); }
  const GatewayOptions& options() const { return options_; }

 private:
  CURL* takeHandle();
  void returnHandle(CURL* curl);

  const GatewayOptions options_;
  std::atomic<std::size_t> preferred_{0};
  std::mutex poolMu_;
  std::vector<CURL*> idle_;  // guarded by poolMu_
};

// Collects a response body up to kMaxEtcdAnswerBytes; libcurl's write callback.
struct BoundedBody {
  std::string data;
  bool overflowed = false;
};
std::size_t appendBoundedBody(char* data, std::size_t size, std::size_t count, void* sink);

}  // namespace overmesh::store::etcd
