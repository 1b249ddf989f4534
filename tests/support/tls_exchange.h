#pragma once

// One raw HTTP exchange over TLS 1.3, for tests that send hand-made (or fuzzed) bytes to
// the cluster's TLS ports: connect from the calling thread's network namespace, present
// a client certificate (or none, for a join connection), offer an ALPN, send the bytes,
// close our side, read the answer until the server closes. The server's certificate is
// not checked: these tests probe the server, not the client.

#include <chrono>
#include <functional>
#include <string>

namespace overmesh::testing {

struct TlsIdentity {
  std::string certPem;  // empty: no client certificate
  std::string keyPem;
  std::string alpn;  // empty: no ALPN extension
};

struct TlsExchange {
  bool connected = false;  // the TCP connection was made
  bool handshake = false;  // the TLS handshake completed (on our side)
  int status = 0;          // HTTP status of the answer; 0 when there was none
  std::string answer;      // the decrypted bytes the server sent
  std::string error;       // OpenSSL's or the socket's reason when something failed
};

// Sends `request` to address:port over TLS 1.3 as `identity`. Every read and write
// waits at most `silence`. Never throws.
TlsExchange exchangeOverTls(const std::string& address, int port, const TlsIdentity& identity,
                            const std::string& request,
                            std::chrono::seconds silence = std::chrono::seconds(10));

// The answer a fake TLS server gives to one request: a 200 with `respond`'s JSON body.
using TlsResponder =
    std::function<std::string(const std::string& requestLine, const std::string& body)>;

// Serves one HTTP request on the accepted TCP connection `fd` (taken over and closed)
// over TLS 1.3 as `identity` (the server's certificate and key): any client certificate,
// or none, is accepted and the client's first ALPN is taken, so that any of our clients
// gets through. Reads the head and a body of Content-Length bytes (waiting at most
// `silence` for each read), answers 200 with respond(requestLine, body). Returns the
// request line, "" when the handshake or the read failed.
std::string serveOneOverTls(int fd, const TlsIdentity& identity, const TlsResponder& respond,
                            std::chrono::seconds silence = std::chrono::seconds(5));

}  // namespace overmesh::testing
