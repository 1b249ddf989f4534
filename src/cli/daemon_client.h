#pragma once

// The CLI's view of its local daemon: JSON requests over the REST API, with the
// daemon's typed errors passed through.

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http_client.h"
#include "api/tls_files.h"
#include "common/error.h"

namespace overmesh::cli {

inline constexpr const char* kDefaultHost = "unix:///run/overmesh/overmesh.sock";

// How long a CLI request waits for its answer unless the command says otherwise.
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{30'000};

class DaemonClient {
 public:
  static Result<DaemonClient> connect(const std::string& host);
  // The same, where a tcp:// host is reached only over TLS with a client certificate:
  // InvalidArgument (saying why) unless tlsVerify and all three files are given. A unix
  // host ignores the TLS settings.
  static Result<DaemonClient> connect(const std::string& host, bool tlsVerify,
                                      const api::TlsFiles& tls);

  Result<nlohmann::json> get(const std::string& path);
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> del(const std::string& path);

  // The answer's body as it came (exec, logs: decoded by api/task_io.h). A failure says
  // "is overmeshd running?" only when connecting failed; a timeout names the request and
  // how long it waited. timeout 0 (api::kNoTimeout) = no limit.
  Result<std::string> send(const std::string& method, const std::string& path,
                           const std::string& body,
                           std::chrono::milliseconds timeout = kDefaultRequestTimeout);

 private:
  explicit DaemonClient(std::shared_ptr<api::HttpClient> http) : http_(std::move(http)) {}
  Result<nlohmann::json> sendJson(const std::string& method, const std::string& path,
                                  const std::string& body);

  std::shared_ptr<api::HttpClient> http_;
};

}  // namespace overmesh::cli
