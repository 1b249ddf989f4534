#pragma once

// The CLI's view of its local daemon: JSON requests over the REST API, with the
// daemon's typed errors passed through.

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/http_client.h"
#include "common/error.h"

namespace overmesh::cli {

inline constexpr const char* kDefaultHost = "unix:///run/overmesh/overmesh.sock";

class DaemonClient {
 public:
  static Result<DaemonClient> connect(const std::string& host);

  Result<nlohmann::json> get(const std::string& path);
  Result<nlohmann::json> post(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> del(const std::string& path);

 private:
  explicit DaemonClient(std::shared_ptr<api::HttpClient> http) : http_(std::move(http)) {}
  Result<nlohmann::json> send(const std::string& method, const std::string& path,
                              const std::string& body);

  std::shared_ptr<api::HttpClient> http_;
};

// Escapes a user-typed reference for use as one path segment.
std::string pathSegment(const std::string& text);

}  // namespace overmesh::cli
