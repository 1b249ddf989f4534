#include "api/tls_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string_view>
#include <vector>

#include "api/api_error.h"
#include "api/cluster_protocol.h"
#include "api/http_types.h"
#include "api/tls_relay.h"

namespace overmesh::api {

struct TlsListener::Connection {
  enum class Phase {
    Handshaking,  // SSL_accept until it completes, fails or its deadline passes
    Lingering,    // refused: our side ended, the client's bytes discarded for a moment
    Relaying,     // handed to the HTTP server: bytes move both ways (TlsRelay)
  };
  std::uint64_t serial = 0;
  int tcpFd = -1;  // closed by end(), under the listener's mutex
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

  // The loop thread's alone.
  Phase phase = Phase::Handshaking;
  std::unique_ptr<SSL, void (*)(SSL*)> ssl{nullptr, &SSL_free};
  std::optional<TlsRelay> relay;
  int plainFd = -1;  // our end of the socketpair, once handed off
  std::chrono::steady_clock::time_point handshakeDeadline;
  std::optional<std::chrono::steady_clock::time_point> deadline;  // its entry in deadlines_
  std::uint32_t tcpEvents = 0;    // the epoll interest registered for tcpFd
  std::uint32_t plainEvents = 0;  // and for plainFd
  bool plainWatched = false;      // plainFd is in the epoll set
};

namespace {

using Clock = std::chrono::steady_clock;

// epoll tags: a connection's sockets are tagged serial*2 (TCP) and serial*2+1 (plain);
// serials start at 1, which leaves 0 and 1 free.
constexpr std::uint64_t kListenTag = 0;
constexpr std::uint64_t kWakeTag = 1;
constexpr int kEventsPerWait = 256;
constexpr int kAcceptsPerWake = 64;
// Out of descriptors: how long accept waits before it tries again.
constexpr std::chrono::milliseconds kAcceptPause{50};

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
  int epollFd = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd < 0) {
    int err = errno;
    close(listenFd);
    return errorf(ErrorKind::Unavailable, "TLS listener: epoll_create1: {}", std::strerror(err));
  }
  int wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd < 0) {
    int err = errno;
    close(epollFd);
    close(listenFd);
    return errorf(ErrorKind::Unavailable, "TLS listener: eventfd: {}", std::strerror(err));
  }
  setNonBlocking(listenFd);
  // From here the listener owns the three descriptors: its destructor closes them.
  auto listener = std::unique_ptr<TlsListener>(new TlsListener(
      listenFd, epollFd, wakeFd, std::move(options), maxConnections, std::move(handoff)));
  epoll_event listenEvent{EPOLLIN, {.u64 = kListenTag}};
  epoll_event wakeEvent{EPOLLIN, {.u64 = kWakeTag}};
  if (epoll_ctl(epollFd, EPOLL_CTL_ADD, listenFd, &listenEvent) != 0 ||
      epoll_ctl(epollFd, EPOLL_CTL_ADD, wakeFd, &wakeEvent) != 0) {
    return errorf(ErrorKind::Unavailable, "TLS listener: epoll_ctl: {}", std::strerror(errno));
  }
  {
    std::lock_guard lock(listener->queueMutex_);
    listener->loopRunning_ = true;
  }
  try {
    listener->loopThread_ = std::thread([raw = listener.get()] { raw->loop(); });
  } catch (const std::system_error& error) {
    {
      std::lock_guard lock(listener->queueMutex_);
      listener->loopRunning_ = false;
    }
    return errorf(ErrorKind::Unavailable, "TLS listener: cannot start its thread: {}",
                  error.what());
  }
  return listener;
}

TlsListener::TlsListener(int listenFd, int epollFd, int wakeFd, TlsListenOptions options,
                         unsigned int maxConnections, Handoff handoff)
    : listenFd_(listenFd),
      epollFd_(epollFd),
      wakeFd_(wakeFd),
      options_(std::move(options)),
      maxConnections_(maxConnections),
      handoff_(std::move(handoff)),
      scratch_(std::make_unique<char[]>(TlsRelay::kBufferBytes)) {}

TlsListener::~TlsListener() {
  stop();
  close(wakeFd_);
  close(epollFd_);
}

void TlsListener::runOnLoop(const std::function<void()>& task) {
  if (std::this_thread::get_id() == loopThread_.get_id()) {
    task();
    return;
  }
  auto done = std::make_shared<bool>(false);
  {
    std::unique_lock lock(queueMutex_);
    if (!loopRunning_) {
      lock.unlock();
      task();
      return;
    }
    queue_.push_back(QueuedCall{task, done});
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wakeFd_, &one, sizeof(one));
  std::unique_lock lock(queueMutex_);
  queueDone_.wait(lock, [&] { return *done; });
}

void TlsListener::runQueued() {
  std::uint64_t value = 0;
  [[maybe_unused]] ssize_t got = read(wakeFd_, &value, sizeof(value));
  std::deque<QueuedCall> calls;
  {
    std::lock_guard lock(queueMutex_);
    calls.swap(queue_);
  }
  for (QueuedCall& call : calls) {
    call.task();
    std::lock_guard lock(queueMutex_);
    *call.done = true;
  }
  queueDone_.notify_all();
}

void TlsListener::closeListenSocket() {
  if (listenFd_ >= 0) {
    epoll_ctl(epollFd_, EPOLL_CTL_DEL, listenFd_, nullptr);
    close(listenFd_);
    listenFd_ = -1;
  }
  acceptPausedUntil_.reset();
}

void TlsListener::stopAccepting() {
  runOnLoop([this] { closeListenSocket(); });
}

void TlsListener::closeHandoff() {
  std::unique_lock gate(handoffMutex_);
  handoffClosed_ = true;
}

void TlsListener::stop() {
  stopAccepting();
  stopping_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wakeFd_, &one, sizeof(one));
  if (loopThread_.joinable()) {
    loopThread_.join();
  }
  // The loop ended: this thread is the only one left to end the connections.
  while (!connections_.empty()) {
    end(connections_.begin()->first);
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
      // The client sees its connection end now; the loop sees the hang-up and ends the
      // connection. The descriptor stays open (end() closes it, under mutex_) so that
      // it cannot be reused meanwhile.
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

void TlsListener::loop() {
  // OpenSSL writes with write(2): a client that went away would raise SIGPIPE, which
  // kills a process that did not ignore it. Blocked here, it stays pending on this thread
  // and the write fails with EPIPE instead.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  std::vector<epoll_event> events(kEventsPerWait);
  while (!stopping_) {
    auto now = Clock::now();
    std::optional<Clock::time_point> next;
    if (!deadlines_.empty()) {
      next = deadlines_.begin()->first;
    }
    if (acceptPausedUntil_ && (!next || *acceptPausedUntil_ < *next)) {
      next = acceptPausedUntil_;
    }
    int timeout = -1;
    if (next) {
      // Rounded up: waking a little early would only spin until the deadline.
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
      timeout = static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
    }
    int ready = epoll_wait(epollFd_, events.data(), static_cast<int>(events.size()), timeout);
    if (ready < 0) {
      if (errno != EINTR && warnLimiter().allow("epoll_wait")) {
        spdlog::error("tls: epoll_wait: {}", std::strerror(errno));
      }
      continue;
    }
    now = Clock::now();
    for (int i = 0; i < ready && !stopping_; ++i) {
      std::uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        runQueued();
        continue;
      }
      if (tag == kListenTag) {
        acceptReady(now);
        continue;
      }
      std::uint64_t serial = tag >> 1;
      auto it = connections_.find(serial);
      if (it == connections_.end()) {
        continue;  // ended by an earlier event of this batch
      }
      // Nothing may escape the loop (std::terminate): whatever a step throws ends only
      // its connection.
      try {
        serviceConnection(*it->second, events[i].events, (tag & 1) != 0, now);
      } catch (const std::exception& error) {
        failed(serial, error);
      }
    }
    now = Clock::now();
    expire(now);
    if (acceptPausedUntil_ && now >= *acceptPausedUntil_ && listenFd_ >= 0) {
      acceptPausedUntil_.reset();
      epoll_event resume{EPOLLIN, {.u64 = kListenTag}};
      epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &resume);
    }
  }
  std::deque<QueuedCall> left;
  {
    std::lock_guard lock(queueMutex_);
    loopRunning_ = false;
    left.swap(queue_);
  }
  // Calls queued while the loop was stopping run here; later ones run in their caller.
  for (QueuedCall& call : left) {
    call.task();
    std::lock_guard lock(queueMutex_);
    *call.done = true;
  }
  queueDone_.notify_all();
}

void TlsListener::acceptReady(Clock::time_point now) {
  // A bounded batch: a flood of new connections must not starve the open ones.
  for (int i = 0; i < kAcceptsPerWake && listenFd_ >= 0; ++i) {
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    int fd = accept4(listenFd_, reinterpret_cast<sockaddr*>(&peer), &length,
                     SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      int err = errno;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of descriptors: the pending connection stays queued; stop watching the
        // socket for a moment instead of spinning on it.
        if (warnLimiter().allow("accept")) {
          spdlog::warn("tls: accept: {}", std::strerror(err));
        }
        epoll_event paused{0, {.u64 = kListenTag}};
        epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &paused);
        acceptPausedUntil_ = now + kAcceptPause;
        return;
      }
      if (err == EINTR || err == ECONNABORTED) {
        continue;
      }
      return;  // EAGAIN: nothing more queued
    }
    try {
      accepted(fd, peer, now);
    } catch (const std::exception& error) {
      spdlog::error("tls: a new connection failed: {}", error.what());
    }
  }
}

void TlsListener::accepted(int fd, const sockaddr_in& peer, Clock::time_point now) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto connection = std::make_shared<Connection>();
  connection->serial = nextSerial_++;
  connection->tcpFd = fd;
  connection->peer = peer;
  connection->address = addressText(peer);
  connection->options = &options_;
  connection->handshakeDeadline = now + options_.handshakeTimeout;
  {
    std::lock_guard lock(mutex_);
    if (auto full = unverifiedCapReached(connection->address)) {
      close(fd);
      warnRefused(connection->address, *full);
      return;
    }
    connections_.emplace(connection->serial, connection);
    ++unverifiedCount_;
    ++unverifiedByAddress_[connection->address];
  }
  std::shared_ptr<SSL_CTX> context = currentContext();
  if (context == nullptr) {
    warnRefused(connection->address, "the server has no usable certificate");
    end(connection->serial);
    return;
  }
  connection->ssl.reset(SSL_new(context.get()));
  if (connection->ssl == nullptr || SSL_set_fd(connection->ssl.get(), fd) != 1) {
    warnRefused(connection->address, takeOpensslErrors("SSL_new failed"));
    end(connection->serial);
    return;
  }
  SSL_set_ex_data(connection->ssl.get(), connectionIndex(), connection.get());
  // An idle connection gives its read and write buffers back (2,000 idle watches).
  SSL_set_mode(connection->ssl.get(), SSL_MODE_RELEASE_BUFFERS);
  epoll_event event{EPOLLIN, {.u64 = connection->serial << 1}};
  if (epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    warnRefused(connection->address, fmt::format("epoll_ctl: {}", std::strerror(errno)));
    end(connection->serial);
    return;
  }
  connection->tcpEvents = EPOLLIN;
  handshakeStep(*connection, now);
}

std::optional<std::string> TlsListener::unverifiedCapReached(const std::string& address) const {
  if (unverifiedCount_ >= options_.maxUnverifiedConnections) {
    return fmt::format("more than {} connections handshaking or joining at once",
                       options_.maxUnverifiedConnections);
  }
  auto it = unverifiedByAddress_.find(address);
  unsigned int fromAddress = it != unverifiedByAddress_.end() ? it->second : 0;
  if (fromAddress >= options_.maxUnverifiedPerAddress) {
    return fmt::format("more than {} connections handshaking or joining at once from one address",
                       options_.maxUnverifiedPerAddress);
  }
  return std::nullopt;
}

void TlsListener::serviceConnection(Connection& connection, std::uint32_t events, bool plainSide,
                                    Clock::time_point now) {
  switch (connection.phase) {
    case Connection::Phase::Handshaking:
      handshakeStep(connection, now);
      return;
    case Connection::Phase::Lingering:
      if (!drainLinger(connection.tcpFd, scratch_.get())) {
        end(connection.serial);
      }
      return;
    case Connection::Phase::Relaying:
      // A hang-up or error on the client's side (closeConnections() shuts it down, or a
      // reset): no answer can reach it any more.
      if (!plainSide && (events & (EPOLLHUP | EPOLLERR)) != 0) {
        end(connection.serial);
        return;
      }
      if (plainSide && (events & EPOLLERR) != 0) {
        end(connection.serial);
        return;
      }
      if (plainSide && (events & EPOLLHUP) != 0) {
        connection.relay->plainHungUp();
      }
      pumpRelay(connection, now);
      return;
  }
}

void TlsListener::handshakeStep(Connection& connection, Clock::time_point now) {
  SSL* ssl = connection.ssl.get();
  ERR_clear_error();
  int result = SSL_accept(ssl);
  if (result == 1) {
    established(connection, now);
    return;
  }
  int error = SSL_get_error(ssl, result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    watch(connection, error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT, 0,
          connection.handshakeDeadline);
    return;
  }
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
  beginLingering(connection, now);
}

void TlsListener::beginLingering(Connection& connection, Clock::time_point now) {
  connection.phase = Connection::Phase::Lingering;
  connection.ssl.reset();
  beginLinger(connection.tcpFd);
  watch(connection, EPOLLIN, 0, now + kLingerTime);
}

void TlsListener::established(Connection& connection, Clock::time_point now) {
  SSL* ssl = connection.ssl.get();
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr ? !connection.join : SSL_get_verify_result(ssl) != X509_V_OK) {
    warnRefused(connection.address, "no verified client certificate");
    end(connection.serial);
    return;
  }
  PeerIdentity peer = peerIdentityOf(certificate, connection.address);
  peer.join = certificate == nullptr;
  auto identity = std::make_shared<const PeerIdentity>(std::move(peer));
  {
    std::lock_guard lock(mutex_);
    connection.identity = identity;
    if (certificate != nullptr) {
      // A member now: it leaves the unverified pool for the members' cap.
      if (memberCount_ >= maxConnections_) {
        warnRefused(connection.address,
                    fmt::format("more than {} connections at once", maxConnections_));
        // Still unverified for end()'s counts.
        connection.identity = nullptr;
      } else {
        connection.member = true;
        ++memberCount_;
        --unverifiedCount_;
        auto it = unverifiedByAddress_.find(connection.address);
        if (it != unverifiedByAddress_.end() && --it->second == 0) {
          unverifiedByAddress_.erase(it);
        }
      }
    }
  }
  if (certificate != nullptr && !connection.member) {
    end(connection.serial);
    return;
  }
  // Admission again, now that closeConnections() can see this connection: a revocation
  // between the handshake's check and here would otherwise miss it.
  if (certificate != nullptr && options_.admit && !admits(*identity)) {
    warnRefused(connection.address,
                fmt::format("certificate of {} not admitted (revoked)", identity->nodeId));
    end(connection.serial);
    return;
  }
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    warnRefused(connection.address, fmt::format("socketpair: {}", std::strerror(errno)));
    end(connection.serial);
    return;
  }
  setNonBlocking(pair[1]);
  {
    std::lock_guard lock(mutex_);
    pendingIdentities_[pair[0]] = PendingIdentity{connection.serial, identity};
  }
  bool handedOff = false;
  {
    std::shared_lock gate(handoffMutex_);
    if (handoffClosed_) {
      close(pair[0]);  // the HTTP server is stopping: it never saw this socket
    } else {
      handedOff = handoff_(pair[0], connection.peer);
    }
  }
  if (!handedOff) {
    {
      std::lock_guard lock(mutex_);
      auto it = pendingIdentities_.find(pair[0]);
      if (it != pendingIdentities_.end() && it->second.serial == connection.serial) {
        pendingIdentities_.erase(it);
      }
    }
    close(pair[1]);
    warnRefused(connection.address, "the HTTP server refused the connection");
    end(connection.serial);
    return;
  }
  connection.plainFd = pair[1];
  connection.phase = Connection::Phase::Relaying;
  connection.relay.emplace(ssl, connection.plainFd, options_.stallTimeout, connection.join, now);
  // Registered with no interest: its hang-up and errors are reported all the same.
  epoll_event event{0, {.u64 = (connection.serial << 1) | 1}};
  if (epoll_ctl(epollFd_, EPOLL_CTL_ADD, connection.plainFd, &event) != 0) {
    warnRefused(connection.address, fmt::format("epoll_ctl: {}", std::strerror(errno)));
    end(connection.serial);
    return;
  }
  connection.plainWatched = true;
  connection.plainEvents = 0;
  // The client's first request may have come with its Finished: OpenSSL holds it already.
  pumpRelay(connection, now);
}

void TlsListener::pumpRelay(Connection& connection, Clock::time_point now) {
  if (!connection.relay->pump(now, scratch_.get())) {
    end(connection.serial);
    return;
  }
  TlsRelay::Interest interest = connection.relay->interest();
  watch(connection, (interest.tcpRead ? EPOLLIN : 0u) | (interest.tcpWrite ? EPOLLOUT : 0u),
        (interest.plainRead ? EPOLLIN : 0u) | (interest.plainWrite ? EPOLLOUT : 0u),
        connection.relay->deadline());
}

void TlsListener::watch(Connection& connection, std::uint32_t tcpEvents, std::uint32_t plainEvents,
                        std::optional<Clock::time_point> deadline) {
  if (tcpEvents != connection.tcpEvents) {
    epoll_event event{tcpEvents, {.u64 = connection.serial << 1}};
    if (epoll_ctl(epollFd_, EPOLL_CTL_MOD, connection.tcpFd, &event) == 0) {
      connection.tcpEvents = tcpEvents;
    }
  }
  if (connection.plainWatched) {
    if (connection.relay && connection.relay->plainHungUpAlready()) {
      // A hung-up socket is always ready: watching it would spin. Only its EOF is left,
      // read once the client took the answers before it.
      epoll_ctl(epollFd_, EPOLL_CTL_DEL, connection.plainFd, nullptr);
      connection.plainWatched = false;
    } else if (plainEvents != connection.plainEvents) {
      epoll_event event{plainEvents, {.u64 = (connection.serial << 1) | 1}};
      if (epoll_ctl(epollFd_, EPOLL_CTL_MOD, connection.plainFd, &event) == 0) {
        connection.plainEvents = plainEvents;
      }
    }
  }
  if (deadline != connection.deadline) {
    if (connection.deadline) {
      deadlines_.erase({*connection.deadline, connection.serial});
    }
    if (deadline) {
      deadlines_.emplace(*deadline, connection.serial);
    }
    connection.deadline = deadline;
  }
}

void TlsListener::expire(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    std::uint64_t serial = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = connections_.find(serial);
    if (it == connections_.end()) {
      continue;
    }
    Connection& connection = *it->second;
    connection.deadline.reset();
    try {
      switch (connection.phase) {
        case Connection::Phase::Handshaking:
          warnRefused(connection.address, fmt::format("no TLS handshake within {} ms",
                                                      options_.handshakeTimeout.count()));
          beginLingering(connection, now);
          break;
        case Connection::Phase::Lingering:
          end(serial);
          break;
        case Connection::Phase::Relaying:
          pumpRelay(connection, now);  // ends it when it stalled past its deadline
          break;
      }
    } catch (const std::exception& error) {
      failed(serial, error);
    }
  }
}

void TlsListener::failed(std::uint64_t serial, const std::exception& error) {
  // The step may have ended the connection before it threw: look it up again.
  auto it = connections_.find(serial);
  spdlog::error("tls: the connection from {} failed: {}",
                it != connections_.end() ? it->second->address : "a client", error.what());
  end(serial);
}

void TlsListener::end(std::uint64_t serial) {
  auto it = connections_.find(serial);
  if (it == connections_.end()) {
    return;
  }
  std::shared_ptr<Connection> connection = it->second;
  if (connection->deadline) {
    deadlines_.erase({*connection->deadline, serial});
  }
  epoll_ctl(epollFd_, EPOLL_CTL_DEL, connection->tcpFd, nullptr);
  if (connection->plainWatched) {
    epoll_ctl(epollFd_, EPOLL_CTL_DEL, connection->plainFd, nullptr);
  }
  connection->relay.reset();
  connection->ssl.reset();
  if (connection->plainFd >= 0) {
    close(connection->plainFd);
  }
  std::lock_guard lock(mutex_);
  if (connection->member) {
    --memberCount_;
  } else {
    --unverifiedCount_;
    auto counted = unverifiedByAddress_.find(connection->address);
    if (counted != unverifiedByAddress_.end() && --counted->second == 0) {
      unverifiedByAddress_.erase(counted);
    }
  }
  close(connection->tcpFd);
  connection->tcpFd = -1;
  connections_.erase(it);
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

}  // namespace overmesh::api
