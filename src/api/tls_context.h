#pragma once

// OpenSSL pieces of the TLS listener (api/tls_listener.h): the server's SSL_CTX built
// from a TlsServerConfig, the identity read from a verified client certificate, and
// OpenSSL's error queue as text. No sockets here.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "api/tls.h"
#include "common/error.h"

namespace overmesh::api {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// A TLS 1.3-only server context presenting config.certPem (the first certificate; any
// further ones are sent as its chain) with config.keyPem, trusting only the
// certificates of config.caPem for client certificates, which are required
// (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT). No session tickets nor cache: every
// connection's client certificate is verified and admitted afresh. The caller installs
// its ALPN and verify callbacks. InvalidArgument naming the field when a PEM does not
// parse or the key is not the certificate's.
Result<SslCtxPtr> makeServerContext(const TlsServerConfig& config);

// What a client certificate says, with the peer's address: subject CN, OU, O, the
// serial in lower-case hex and notAfter.
PeerIdentity peerIdentityOf(X509* certificate, const std::string& address);

// The thread's OpenSSL error queue as one line ("unknown ca; ..."), emptied; `fallback`
// when it is empty.
std::string takeOpensslErrors(const std::string& fallback);

}  // namespace overmesh::api
