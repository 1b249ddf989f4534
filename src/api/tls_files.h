#pragma once

// The local API over TCP (Docker's --tlsverify model): the daemon's `--host tcp://ADDR:PORT`
// and the CLI's `--host tcp://HOST:PORT` work only with TLS and a client certificate, from
// PEM files named by --tlscacert, --tlscert and --tlskey. These read and check them.

#include <cstdint>
#include <string>
#include <string_view>

#include "api/tls.h"
#include "common/error.h"

namespace overmesh::api {

// Largest certificate or key file accepted (ours are < 2 KiB; a CA bundle may be more).
inline constexpr std::size_t kMaxTlsFileBytes = 256 * 1024;

struct TlsFiles {
  std::string caCert;  // --tlscacert: the CA the peer's certificate must chain to
  std::string cert;    // --tlscert
  std::string key;     // --tlskey
};

struct TcpEndpoint {
  std::string host;
  std::uint16_t port = 0;
};

// Parses "tcp://HOST:PORT" (HOST an IPv4 address or a name, PORT 1-65535).
// InvalidArgument naming the value and the valid form.
Result<TcpEndpoint> parseTcpEndpoint(std::string_view endpoint);

// All three files must be named: InvalidArgument naming the missing flags and why
// (`who` is "overmeshd --host tcp://…" or "--host tcp://…", for the message).
Status requireTlsFiles(const TlsFiles& files, std::string_view who);

// Reads the files into a server configuration (the daemon's TCP listener): any client
// certificate chaining to caCert is served. Unavailable naming a file that cannot be
// read; InvalidArgument when one is not PEM or too large.
Result<TlsServerConfig> loadServerTls(const TlsFiles& files);

// Reads the files into a client configuration for the CLI: the server's certificate is
// checked against caCert and the endpoint's host (its IP or DNS name), no serverName.
Result<TlsClientConfig> loadClientTls(const TlsFiles& files);

}  // namespace overmesh::api
