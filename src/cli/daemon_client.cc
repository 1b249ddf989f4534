#include "cli/daemon_client.h"

#include <fmt/format.h>

#include "api/api_error.h"
#include "common/json.h"

namespace overmesh::cli {

Result<DaemonClient> DaemonClient::connect(const std::string& host) {
  auto http = api::HttpClient::create(host);
  if (!http) {
    return std::unexpected(http.error());
  }
  return DaemonClient(std::shared_ptr<api::HttpClient>(std::move(*http)));
}

Result<DaemonClient> DaemonClient::connect(const std::string& host, bool tlsVerify,
                                          const api::TlsFiles& tls) {
  if (!host.starts_with("tcp://")) {
    return connect(host);
  }
  if (!tlsVerify) {
    return errorf(ErrorKind::InvalidArgument,
                  "--host {} needs --tlsverify --tlscacert FILE --tlscert FILE --tlskey FILE: "
                  "overmeshd serves its API over TCP only with TLS and a client certificate "
                  "(Docker's --tlsverify model)",
                  host);
  }
  if (auto endpoint = api::parseTcpEndpoint(host); !endpoint) {
    return std::unexpected(endpoint.error());
  }
  auto config = api::loadClientTls(tls);
  if (!config) {
    return std::unexpected(config.error());
  }
  auto http = api::HttpClient::create(
      host, std::make_shared<const api::TlsClientConfig>(std::move(*config)));
  if (!http) {
    return std::unexpected(http.error());
  }
  return DaemonClient(std::shared_ptr<api::HttpClient>(std::move(*http)));
}

Result<std::string> DaemonClient::send(const std::string& method, const std::string& path,
                                       const std::string& body,
                                       std::chrono::milliseconds timeout) {
  auto response = http_->request(method, path, body, timeout);
  if (!response) {
    Error error = response.error();
    if (http_->lastFailure() == api::HttpClient::Failure::Connect) {
      error.message +=
          "\n(is overmeshd running? point the CLI at it with --host or OVERMESH_HOST)";
    }
    return std::unexpected(error);
  }
  if (!api::isSuccess(*response)) {
    return std::unexpected(api::errorFromResponse(*response));
  }
  return std::move(response->body);
}

Result<nlohmann::json> DaemonClient::sendJson(const std::string& method, const std::string& path,
                                              const std::string& body) {
  auto answer = send(method, path, body);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  auto json = nlohmann::json::parse(*answer, nullptr, false);
  if (json.is_discarded()) {
    return errorf(ErrorKind::Internal, "the daemon answered {} with invalid JSON", path);
  }
  return json;
}

Result<nlohmann::json> DaemonClient::get(const std::string& path) {
  return sendJson("GET", path, "");
}

Result<nlohmann::json> DaemonClient::post(const std::string& path, const nlohmann::json& body) {
  return sendJson("POST", path, dumpJson(body));
}

Result<nlohmann::json> DaemonClient::del(const std::string& path) {
  return sendJson("DELETE", path, "");
}

}  // namespace overmesh::cli
