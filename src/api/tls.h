#pragma once

// TLS for the cluster's connections (docs/security.md): TLS 1.3 only, through OpenSSL,
// mutual (both sides present a certificate of the cluster CA), on every node-to-node
// port. Types shared by HttpServer::listenTls and HttpClient.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace overmesh::api {

// ALPN protocol a joining node offers: it has no certificate yet, so the cluster port
// lets a handshake without a client certificate complete only for a client that offers
// this, and then serves it nothing but the join routes (kCaPath, kJoinPath). Every
// other handshake without a valid client certificate fails.
inline constexpr const char* kJoinAlpn = "overmesh-join/1";
// ALPN of every other cluster connection.
inline constexpr const char* kClusterAlpn = "overmesh/1";

// What a server presents and trusts. Immutable once built: a renewal builds a new one.
struct TlsServerConfig {
  std::string caPem;    // client certificates must chain to this
  std::string certPem;  // the server's certificate
  std::string keyPem;
};

// What a client presents and trusts.
struct TlsClientConfig {
  std::string caPem;    // the server's certificate must chain to this...
  std::string serverName;  // ...and carry this DNS name (kManagerServerName, a node ID)
  std::string certPem;  // empty only for a join (then joinAlpn must be true)
  std::string keyPem;
  bool joinAlpn = false;  // offer kJoinAlpn instead of kClusterAlpn
  // Join only, for the one request that fetches the CA's certificate (GET kCaPath): the
  // server's certificate is not checked. The caller then checks the fetched CA against
  // the token's fingerprint and makes a verifying client with it before it sends the
  // secret. Never together with a client certificate.
  bool skipServerVerification = false;
  // The local address the client's connections leave from (the node's advertise
  // address): the members-only underlay filter admits a member only from the address the
  // cluster knows, and a multi-homed host would otherwise pick one by route. Empty: the
  // kernel's choice.
  std::string sourceAddress;
};

// The verified client certificate of a request's connection (the CA checked its chain
// and validity at the handshake). A join connection (`join`) has no certificate: every
// field but `address` is empty. A certificate without a CN gives an empty nodeId on a
// connection that is not a join connection: judge joins by `join`, never by nodeId.
struct PeerIdentity {
  std::string nodeId;     // subject CN
  std::string role;       // subject OU: "manager" | "worker"
  std::string clusterId;  // subject O
  std::string serial;     // lower-case hex
  std::chrono::system_clock::time_point notAfter;
  std::string address;    // the peer's IPv4 address
  bool join = false;      // a join connection (kJoinAlpn, no client certificate)
};

// Hands out the server's current configuration for each new handshake (a renewal
// takes effect for the next connection, without a restart). Called from connection
// threads; must be thread-safe and must not block.
using TlsServerConfigSource = std::function<std::shared_ptr<const TlsServerConfig>()>;
// Decides, after the chain was verified, whether a peer may talk to this server at all
// (revocation: a removed node's certificate is still a valid chain). Thread-safe, fast.
using PeerAdmission = std::function<bool(const PeerIdentity&)>;

struct TlsListenOptions {
  TlsServerConfigSource config;
  PeerAdmission admit;  // empty = every verified peer
  // The manager's cluster port: a client offering kJoinAlpn may complete a handshake
  // without a certificate (see kJoinAlpn). False everywhere else.
  bool allowJoinWithoutCertificate = false;
  // A handshake not finished within this is abandoned (slowloris).
  std::chrono::milliseconds handshakeTimeout{10'000};
  // A connection whose answer (or request) bytes made no progress for this long is
  // ended: a client that stops reading must not hold its slot and thread forever. A join
  // connection is also ended when nothing at all moved for this long.
  std::chrono::milliseconds stallTimeout{30'000};
  // Connections not yet known to be members (handshaking, or join connections) have
  // their own cap, apart from the members' (HttpServerLimits::maxConnections): anyone who
  // can reach the port can open those. Past either cap a new connection is closed at once.
  unsigned int maxUnverifiedConnections = 64;
  unsigned int maxUnverifiedPerAddress = 8;
};

// Hands out a client's current configuration; rebuild the client when the pointer
// changes (a renewal).
using TlsClientConfigSource = std::function<std::shared_ptr<const TlsClientConfig>()>;

}  // namespace overmesh::api
