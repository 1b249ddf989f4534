#pragma once

// Moving bytes for one TLS connection of the listener (api/tls_listener.h), after its
// handshake: between the client (OpenSSL over the TCP socket) and the HTTP server (the
// plain side of a socketpair). Both sockets non-blocking.

#include <openssl/ssl.h>

#include <chrono>

namespace overmesh::api {

// Relays until either side ends, or `stopFd` becomes readable: decrypted client bytes
// go to `plainFd`, the server's answers back through `ssl`. A client's close_notify
// half-closes the plain side (the server still answers); the server closing its side
// sends close_notify and ends. A reset, a TLS error or a hang-up of the TCP socket (what
// closeConnections() causes) ends at once. Closes nothing.
//
// Stalls: while bytes wait in either direction (a client that stopped reading its
// answers, with a zero window), the relay ends after `stall` without progress. With
// `idleIsStall` (join connections) it also ends after `stall` with nothing moving at all.
// An idle member connection (a watch long-poll waiting) has no deadline here.
void relayTls(SSL* ssl, int tcpFd, int plainFd, int stopFd, std::chrono::milliseconds stall,
              bool idleIsStall);

// After a refused handshake, before closing `fd`: ends our side and discards what the
// client still sends, for up to 200 ms (or until `stopFd` is readable), so that the alert
// reaches the client instead of a reset.
void lingerBeforeClose(int fd, int stopFd);

}  // namespace overmesh::api
