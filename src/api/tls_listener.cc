#include "api/tls_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_types.h"
#include "api/tls_relay.h"

namespace overmesh::api {

struct TlsListener::Connection {
  std::uint64_t serial = 0;
  int tcpFd = -1;  // closed by finish(), under the listener's mutex
  sockaddr_in peer{};
  std::string address;
  const TlsListenOptions* options = nullptr;
  bool join = false;    // the client offered kJoinAlpn and it was accepted
  // Counted among the members (a verified certificate) instead of the unverified
  // (handshaking, join): set under the listener's mutex.
  bool member = false;
  std::string refusal;  // set by the verify callback when admission failed
  // Set under the listener's mutex once the handshake succeeded: what
  // closeConnections() judges.
  std::shared_ptr<const PeerIdentity> identity;
};

namespace {

using Clock = std::chrono::steady_clock;

// The SSL ex_data slot that points at the Connection of an SSL.
int connectionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsListener::Connection* connectionOf(SSL* ssl) {
  return static_cast<TlsListener::Connection*>(SSL_get_ex_data(ssl, connectionIndex()));
}

bool offers(const unsigned char* in, unsigned int length, std::string_view wanted,
            const unsigned char** out, unsigned char* outLength) {
  unsigned int at = 0;
  while (at < length) {
    unsigned int size = in[at];
    if (at + 1 + size > length) {
      return false;  // malformed list: treat as not offered
    }
    if (std::string_view(reinterpret_cast<const char*>(in + at + 1), size) == wanted) {
      *out = in + at + 1;
      *outLength = static_cast<unsigned char>(size);
      return true;
    }
    at += 1 + size;
  }
  return false;
}

// Runs while OpenSSL processes the ClientHello, before the server's flight (with its
// CertificateRequest) is written: a join client switches its connection to "certificate
// optional" here. A client offering neither of our protocols goes on without ALPN and is
// treated as a cluster client (certificate required).
int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outLength,
               const unsigned char* in, unsigned int inLength, void* /*arg*/) {
  TlsListener::Connection* connection = connectionOf(ssl);
  if (offers(in, inLength, kClusterAlpn, out, outLength)) {
    return SSL_TLSEXT_ERR_OK;
  }
  if (connection != nullptr && connection->options->allowJoinWithoutCertificate &&
      offers(in, inLength, kJoinAlpn, out, outLength)) {
    connection->join = true;
    SSL_set_verify(ssl, SSL_VERIFY_PEER, SSL_get_verify_callback(ssl));
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// OpenSSL verified the chain (preverified); the leaf is then offered to admission, so
// that a revoked node's handshake fails with an alert the client can name.
int verifyPeer(int preverified, X509_STORE_CTX* store) {
  if (preverified != 1 || X509_STORE_CTX_get_error_depth(store) != 0) {
    return preverified;
  }
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  TlsListener::Connection* connection = ssl != nullptr ? connectionOf(ssl) : nullptr;
  if (connection == nullptr || !connection->options->admit) {
    return 1;
  }
  PeerIdentity identity =
      peerIdentityOf(X509_STORE_CTX_get_current_cert(store), connection->address);
  bool admitted = false;
  try {
    admitted = connection->options->admit(identity);
  } catch (const std::exception& error) {
    spdlog::error("tls: the admission check failed for {}: {}", identity.nodeId, error.what());
  }
  if (!admitted) {
    connection->refusal = fmt::format("certificate of {} ({}) not admitted (revoked)",
                                      identity.nodeId, identity.role);
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
    return 0;
  }
  return 1;
}

// At most one warning a second per reason: a scanner or a flood must not fill the log.
class WarnLimiter {
 public:
  bool allow(const std::string& reason) {
    std::lock_guard lock(mutex_);
    auto now = Clock::now();
    if (last_.size() > 256) {
      last_.clear();
    }
    auto [it, inserted] = last_.try_emplace(reason, now);
    if (!inserted && now - it->second < std::chrono::seconds(1)) {
      return false;
    }
    it->second = now;
    return true;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> last_;
};

WarnLimiter& warnLimiter() {
  static WarnLimiter limiter;
  return limiter;
}

void warnRefused(const std::string& address, const std::string& reason) {
  if (warnLimiter().allow(reason)) {
    spdlog::warn("tls: refused a connection from {}: {}", address, reason);
  }
}

std::string addressText(const sockaddr_in& peer) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text));
  return text;
}

void setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags >= 0) {
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  }
}

}  // namespace

std::optional<HttpResponse> refuseOnJoinConnection(const HttpRequest& request) {
  if (!request.identity || !request.identity->join) {
    return std::nullopt;
  }
  if ((request.method == "GET" && request.path == kCaPath) ||
      (request.method == "POST" && request.path == kJoinPath)) {
    return std::nullopt;
  }
  return errorResponse(Error{ErrorKind::Unauthenticated,
                             "this connection has no client certificate: only a join is "
                             "possible"});
}

Result<std::unique_ptr<TlsListener>> TlsListener::start(int listenFd, TlsListenOptions options,
                                                        unsigned int maxConnections,
                                                        Handoff handoff) {
  if (!options.config) {
    close(listenFd);
    return errorf(ErrorKind::InvalidArgument,
                  "TLS listener: options.config is empty; it must hand out the server's "
                  "certificate");
  }
  int stopFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd < 0) {
    int err = errno;
    close(listenFd);
    return errorf(ErrorKind::Unavailable, "eventfd: {}", std::strerror(err));
  }
  auto listener = std::unique_ptr<TlsListener>(
      new TlsListener(listenFd, stopFd, std::move(options), maxConnections, std::move(handoff)));
  try {
    listener->acceptThread_ = std::thread([raw = listener.get()] { raw->acceptLoop(); });
  } catch (const std::system_error& error) {
    return errorf(ErrorKind::Unavailable, "TLS listener: cannot start its thread: {}",
                  error.what());
  }
  return listener;
}

TlsListener::TlsListener(int listenFd, int stopFd, TlsListenOptions options,
                         unsigned int maxConnections, Handoff handoff)
    : listenFd_(listenFd),
      stopFd_(stopFd),
      options_(std::move(options)),
      maxConnections_(maxConnections),
      handoff_(std::move(handoff)) {}

TlsListener::~TlsListener() {
  stop();
  close(stopFd_);
}

void TlsListener::stopAccepting() {
  stopping_ = true;
  if (acceptThread_.joinable()) {
    // Wakes the accept thread's poll (Linux: POLLHUP on a shut-down listening socket).
    shutdown(listenFd_, SHUT_RDWR);
    acceptThread_.join();
  }
  if (listenFd_ >= 0) {
    close(listenFd_);
    listenFd_ = -1;
  }
}

void TlsListener::closeHandoff() {
  std::unique_lock gate(handoffMutex_);
  handoffClosed_ = true;
}

void TlsListener::stop() {
  stopAccepting();
  std::uint64_t one = 1;
  // Every relay and handshake polls stopFd_: they end, and close their sockets.
  [[maybe_unused]] ssize_t written = write(stopFd_, &one, sizeof(one));
  std::map<std::uint64_t, std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
    finished_.clear();
  }
  for (auto& [serial, thread] : threads) {
    thread.join();
  }
  std::lock_guard lock(mutex_);
  pendingIdentities_.clear();
}

std::size_t TlsListener::connectionCount() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::size_t TlsListener::closeConnections(const std::function<bool(const PeerIdentity&)>& which) {
  std::size_t closed = 0;
  std::lock_guard lock(mutex_);
  for (auto& [serial, connection] : connections_) {
    if (connection->identity != nullptr && which(*connection->identity)) {
      // The relay sees the end and stops; the client sees its connection end now. The
      // descriptor stays open (finish() closes it) so it cannot be reused meanwhile.
      shutdown(connection->tcpFd, SHUT_RDWR);
      ++closed;
    }
  }
  return closed;
}

std::shared_ptr<const PeerIdentity> TlsListener::takeIdentity(int fd) {
  std::lock_guard lock(mutex_);
  auto it = pendingIdentities_.find(fd);
  if (it == pendingIdentities_.end()) {
    return nullptr;
  }
  std::shared_ptr<const PeerIdentity> identity = std::move(it->second.identity);
  pendingIdentities_.erase(it);
  return identity;
}

std::shared_ptr<SSL_CTX> TlsListener::currentContext() {
  std::shared_ptr<const TlsServerConfig> config = options_.config();
  if (config == nullptr) {
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  if (config == contextConfig_ && context_ != nullptr) {
    return context_;
  }
  auto built = makeServerContext(*config);
  if (!built) {
    if (warnLimiter().allow(built.error().message)) {
      spdlog::error("tls: cannot use the server's certificate: {}", built.error().message);
    }
    return nullptr;
  }
  SSL_CTX* ctx = built->release();
  SSL_CTX_set_alpn_select_cb(ctx, &selectAlpn, nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &verifyPeer);
  context_ = std::shared_ptr<SSL_CTX>(ctx, [](SSL_CTX* c) { SSL_CTX_free(c); });
  contextConfig_ = std::move(config);
  return context_;
}

void TlsListener::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    int ready = poll(fds, 2, 1000);
    reapFinished();
    if (stopping_ || (ready > 0 && fds[1].revents != 0)) {
      break;
    }
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) {
      if (ready > 0 && (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
        break;
      }
      continue;
    }
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    int fd = accept4(listenFd_, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: the pending connection stays queued; do not spin on it.
        if (warnLimiter().allow("accept")) {
          spdlog::warn("tls: accept: {}", std::strerror(errno));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto connection = std::make_shared<Connection>();
    connection->serial = nextSerial_++;
    connection->tcpFd = fd;
    connection->peer = peer;
    connection->address = addressText(peer);
    connection->options = &options_;
    std::lock_guard lock(mutex_);
    if (auto full = unverifiedCapReached(connection->address)) {
      close(fd);
      warnRefused(connection->address, *full);
      continue;
    }
    connections_.emplace(connection->serial, connection);
    try {
      threads_.emplace(connection->serial, std::thread([this, connection] {
                         // Nothing may escape a connection's thread (std::terminate):
                         // whatever serve() throws ends only this connection.
                         try {
                           serve(connection);
                         } catch (const std::exception& error) {
                           spdlog::error("tls: the connection from {} failed: {}",
                                         connection->address, error.what());
                         } catch (...) {
                           spdlog::error("tls: the connection from {} failed", connection->address);
                         }
                         finish(connection->serial);
                       }));
    } catch (const std::system_error& error) {
      connections_.erase(connection->serial);
      close(fd);
      warnRefused(connection->address, fmt::format("no thread for it: {}", error.what()));
    }
  }
}

std::optional<std::string> TlsListener::unverifiedCapReached(const std::string& address) const {
  unsigned int total = 0;
  unsigned int fromAddress = 0;
  for (const auto& [serial, connection] : connections_) {
    if (!connection->member) {
      ++total;
      fromAddress += connection->address == address ? 1 : 0;
    }
  }
  if (total >= options_.maxUnverifiedConnections) {
    return fmt::format("more than {} connections handshaking or joining at once",
                       options_.maxUnverifiedConnections);
  }
  if (fromAddress >= options_.maxUnverifiedPerAddress) {
    return fmt::format("more than {} connections handshaking or joining at once from one address",
                       options_.maxUnverifiedPerAddress);
  }
  return std::nullopt;
}

void TlsListener::reapFinished() {
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mutex_);
    for (std::uint64_t serial : finished_) {
      auto it = threads_.find(serial);
      if (it != threads_.end()) {
        done.push_back(std::move(it->second));
        threads_.erase(it);
      }
    }
    finished_.clear();
  }
  for (std::thread& thread : done) {
    thread.join();
  }
}

void TlsListener::finish(std::uint64_t serial) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(serial);
  if (it != connections_.end()) {
    if (it->second->member) {
      --memberCount_;
    }
    close(it->second->tcpFd);
    connections_.erase(it);
  }
  finished_.push_back(serial);
}

bool TlsListener::admits(const PeerIdentity& identity) const {
  try {
    return options_.admit(identity);
  } catch (const std::exception& error) {
    spdlog::error("tls: the admission check failed for {}: {}", identity.nodeId, error.what());
  } catch (...) {
    spdlog::error("tls: the admission check failed for {}", identity.nodeId);
  }
  return false;
}

bool TlsListener::handshake(Connection& connection, SSL* ssl) {
  auto deadline = Clock::now() + options_.handshakeTimeout;
  while (true) {
    ERR_clear_error();
    int result = SSL_accept(ssl);
    if (result == 1) {
      return true;
    }
    int error = SSL_get_error(ssl, result);
    short events = 0;
    if (error == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (error == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      std::string reason;
      if (!connection.refusal.empty()) {
        reason = connection.refusal;
      } else if (long verify = SSL_get_verify_result(ssl); verify != X509_V_OK) {
        reason = X509_verify_cert_error_string(verify);
      } else {
        reason = takeOpensslErrors(error == SSL_ERROR_SYSCALL || error == SSL_ERROR_ZERO_RETURN
                                       ? "the client closed the connection during the handshake"
                                       : "handshake failed");
      }
      ERR_clear_error();
      warnRefused(connection.address, reason);
      return false;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (remaining.count() <= 0) {
      warnRefused(connection.address,
                  fmt::format("no TLS handshake within {} ms", options_.handshakeTimeout.count()));
      return false;
    }
    pollfd fds[2] = {{connection.tcpFd, events, 0}, {stopFd_, POLLIN, 0}};
    int ready = poll(fds, 2, static_cast<int>(remaining.count()));
    if (ready > 0 && fds[1].revents != 0) {
      return false;
    }
  }
}

void TlsListener::serve(const std::shared_ptr<Connection>& connection) {
  std::shared_ptr<SSL_CTX> context = currentContext();
  if (context == nullptr) {
    warnRefused(connection->address, "the server has no usable certificate");
    return;
  }
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(context.get()), &SSL_free);
  if (ssl == nullptr || SSL_set_fd(ssl.get(), connection->tcpFd) != 1) {
    warnRefused(connection->address, takeOpensslErrors("SSL_new failed"));
    return;
  }
  SSL_set_ex_data(ssl.get(), connectionIndex(), connection.get());
  if (!handshake(*connection, ssl.get())) {
    lingerBeforeClose(connection->tcpFd, stopFd_);
    return;
  }
  X509* certificate = SSL_get0_peer_certificate(ssl.get());
  if (certificate == nullptr ? !connection->join : SSL_get_verify_result(ssl.get()) != X509_V_OK) {
    warnRefused(connection->address, "no verified client certificate");
    return;
  }
  PeerIdentity peer = peerIdentityOf(certificate, connection->address);
  peer.join = certificate == nullptr;
  auto identity = std::make_shared<const PeerIdentity>(std::move(peer));
  {
    std::lock_guard lock(mutex_);
    connection->identity = identity;
    if (certificate != nullptr) {
      // A member now: it leaves the unverified pool for the members' cap.
      if (memberCount_ >= maxConnections_) {
        warnRefused(connection->address,
                    fmt::format("more than {} connections at once", maxConnections_));
        return;
      }
      connection->member = true;
      ++memberCount_;
    }
  }
  // Admission again, now that closeConnections() can see this connection: a revocation
  // between the handshake's check and here would otherwise miss it.
  if (certificate != nullptr && options_.admit && !admits(*identity)) {
    warnRefused(connection->address,
                fmt::format("certificate of {} not admitted (revoked)", identity->nodeId));
    return;
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    warnRefused(connection->address, fmt::format("socketpair: {}", std::strerror(errno)));
    return;
  }
  setNonBlocking(pair[1]);
  {
    std::lock_guard lock(mutex_);
    pendingIdentities_[pair[0]] = PendingIdentity{connection->serial, identity};
  }
  bool handedOff = false;
  {
    std::shared_lock gate(handoffMutex_);
    if (handoffClosed_) {
      close(pair[0]);  // the HTTP server is stopping: it never saw this socket
    } else {
      handedOff = handoff_(pair[0], connection->peer);
    }
  }
  if (!handedOff) {
    std::lock_guard lock(mutex_);
    auto it = pendingIdentities_.find(pair[0]);
    if (it != pendingIdentities_.end() && it->second.serial == connection->serial) {
      pendingIdentities_.erase(it);
    }
    close(pair[1]);
    warnRefused(connection->address, "the HTTP server refused the connection");
    return;
  }
  relayTls(ssl.get(), connection->tcpFd, pair[1], stopFd_, options_.stallTimeout, connection->join);
  close(pair[1]);
}

}  // namespace overmesh::api
