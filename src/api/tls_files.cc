#include "api/tls_files.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <vector>

namespace overmesh::api {
namespace {

// Reads a PEM file, bounded; `flag` names it in errors.
Result<std::string> readPem(const std::string& path, std::string_view flag,
                            std::string_view marker) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return errorf(ErrorKind::Unavailable, "{} {}: cannot read the file", flag, path);
  }
  std::string text;
  text.resize(kMaxTlsFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxTlsFileBytes) {
    return errorf(ErrorKind::InvalidArgument, "{} {}: larger than {} bytes; expected a PEM file",
                  flag, path, kMaxTlsFileBytes);
  }
  if (text.find(marker) == std::string::npos) {
    return errorf(ErrorKind::InvalidArgument, "{} {}: not a PEM file with a {} block", flag, path,
                  marker);
  }
  return text;
}

}  // namespace

Result<TcpEndpoint> parseTcpEndpoint(std::string_view endpoint) {
  constexpr std::string_view kTcp = "tcp://";
  auto invalid = [&] {
    return errorf(ErrorKind::InvalidArgument,
                  "host {} is not valid: use tcp://HOST:PORT (port 1-65535)", endpoint);
  };
  if (!endpoint.starts_with(kTcp)) {
    return invalid();
  }
  std::string_view rest = endpoint.substr(kTcp.size());
  std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return invalid();
  }
  std::string_view portText = rest.substr(colon + 1);
  std::uint16_t port = 0;
  auto [end, error] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (error != std::errc() || end != portText.data() + portText.size() || port == 0) {
    return invalid();
  }
  std::string host(rest.substr(0, colon));
  if (host.find_first_of("/[] ") != std::string::npos) {
    return invalid();
  }
  return TcpEndpoint{std::move(host), port};
}

Status requireTlsFiles(const TlsFiles& files, std::string_view who) {
  std::vector<std::string_view> missing;
  if (files.caCert.empty()) {
    missing.push_back("--tlscacert");
  }
  if (files.cert.empty()) {
    missing.push_back("--tlscert");
  }
  if (files.key.empty()) {
    missing.push_back("--tlskey");
  }
  if (missing.empty()) {
    return {};
  }
  return errorf(ErrorKind::InvalidArgument,
                "{} needs {} (missing: {}): the local API over TCP is only served with TLS and "
                "client certificates, as Docker's --tlsverify does; without them anyone who "
                "reaches the port would be root on this node",
                who, "--tlscacert FILE --tlscert FILE --tlskey FILE", fmt::join(missing, ", "));
}

namespace {

// The three PEM texts --tlscacert, --tlscert and --tlskey name, all given and readable;
// the error names the first that is not. `who` says which side asks (daemon or CLI).
struct TlsPems {
  std::string ca;
  std::string cert;
  std::string key;
};

Result<TlsPems> readTlsPems(const TlsFiles& files, std::string_view who) {
  if (auto complete = requireTlsFiles(files, who); !complete) {
    return std::unexpected(complete.error());
  }
  auto ca = readPem(files.caCert, "--tlscacert", "-----BEGIN CERTIFICATE-----");
  auto cert = readPem(files.cert, "--tlscert", "-----BEGIN CERTIFICATE-----");
  auto key = readPem(files.key, "--tlskey", "PRIVATE KEY-----");
  for (const auto* read : {&ca, &cert, &key}) {
    if (!*read) {
      return std::unexpected(read->error());
    }
  }
  return TlsPems{std::move(*ca), std::move(*cert), std::move(*key)};
}

}  // namespace

Result<TlsServerConfig> loadServerTls(const TlsFiles& files) {
  auto pems = readTlsPems(files, "overmeshd --host tcp://…");
  if (!pems) {
    return std::unexpected(pems.error());
  }
  return TlsServerConfig{std::move(pems->ca), std::move(pems->cert), std::move(pems->key)};
}

Result<TlsClientConfig> loadClientTls(const TlsFiles& files) {
  auto pems = readTlsPems(files, "--host tcp://… with --tlsverify");
  if (!pems) {
    return std::unexpected(pems.error());
  }
  TlsClientConfig config;
  config.caPem = std::move(pems->ca);
  config.certPem = std::move(pems->cert);
  config.keyPem = std::move(pems->key);
  return config;
}

}  // namespace overmesh::api
