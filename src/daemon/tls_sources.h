#pragma once

// The node's TLS configurations, made from its credentials (security/node_pki.h) for
// the servers (cluster port, node port) and clients (to the manager, to another node).
// Each source hands out the same shared_ptr for as long as the credentials stay the same
// snapshot, and a new one once a renewal swapped them: HttpServer takes it for each new
// handshake, and a client compares pointers to know when to reconnect (ManagerClient).
// Thread-safe; never blocks on anything but a short mutex.

#include <functional>
#include <memory>
#include <string>

#include "api/tls.h"
#include "security/node_pki.h"

namespace overmesh::daemon {

// The node's credentials now (NodePki::current); may return null before there are any.
using CredentialsSource = std::function<std::shared_ptr<const security::NodeCredentials>()>;

// The server side: CA, certificate and key of the current credentials.
api::TlsServerConfigSource serverConfigSource(CredentialsSource credentials);

// The client side, checking the server for `serverName` (kManagerServerName, or a node
// ID for a call to that node's node port), its connections leaving from `sourceAddress`
// (the node's advertise address: the members-only underlay filter admits a member only
// from it; empty = the kernel's choice).
api::TlsClientConfigSource clientConfigSource(CredentialsSource credentials, std::string serverName,
                                              std::string sourceAddress);

// One client configuration from `credentials` (a call made once).
std::shared_ptr<const api::TlsClientConfig> clientConfig(
    const security::NodeCredentials& credentials, std::string serverName,
    std::string sourceAddress);

// NodePki::current of `pki`, which must outlive the source.
CredentialsSource credentialsOf(const security::NodePki& pki);

}  // namespace overmesh::daemon
