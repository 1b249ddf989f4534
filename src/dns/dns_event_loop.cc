#include "dns/dns_event_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "dns/resolv_conf.h"

namespace overmesh::dns {

namespace {

// Token kinds, in the top byte of an epoll token.
constexpr int kWakeKind = 1;
constexpr int kUdpKind = 2;
constexpr int kListenerKind = 3;
constexpr int kConnectionKind = 4;
constexpr int kForwardKind = 5;

int kindOf(std::uint64_t token) { return static_cast<int>(token >> 56); }

// Batches read from one socket per wake-up, so that one busy sandbox cannot starve the
// others (epoll is level-triggered: the rest is read on the next round).
constexpr int kUdpRounds = 2;
// Answers from upstreams are read whole (a UDP datagram is at most 65535 bytes).
constexpr std::size_t kMaxDatagram = 65536;
// What a TCP connection may have buffered in either direction before it is closed: a
// client that sends faster than it reads cannot make us hold more than this.
constexpr std::size_t kMaxTcpBuffered = 2 * (2 + kMaxTcpSize);
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kUpstreamCheckInterval = std::chrono::seconds(1);
constexpr std::size_t kMaxResolvConfSize = 64 * 1024;

std::uint64_t randomSeed(std::uint64_t configured) {
  if (configured != 0) {
    return configured;
  }
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) | device();
}

std::shared_ptr<const DnsDirectory> emptyDirectory() { return DnsDirectory::build({}, {}, {}, {}); }

}  // namespace

Result<std::unique_ptr<DnsServer::Loop>> DnsServer::Loop::create(const DnsServerConfig& config) {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) {
    return errorf(ErrorKind::Unavailable, "dns server: epoll_create1: {}", errnoText(errno));
  }
  UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) {
    return errorf(ErrorKind::Unavailable, "dns server: eventfd: {}", errnoText(errno));
  }
  std::unique_ptr<Loop> loop(new Loop(config, std::move(epoll), std::move(wake)));
  if (!loop->watch(loop->wake_.get(), loop->newToken(kWakeKind), EPOLLIN)) {
    return errorf(ErrorKind::Unavailable, "dns server: epoll_ctl: {}", errnoText(errno));
  }
  try {
    loop->thread_ = std::thread([raw = loop.get()] { raw->run(); });
  } catch (const std::system_error& error) {
    return errorf(ErrorKind::Unavailable, "dns server: cannot start its thread: {}", error.what());
  }
  return loop;
}

DnsServer::Loop::Loop(const DnsServerConfig& config, UniqueFd epoll, UniqueFd wake)
    : config_(config),
      epoll_(std::move(epoll)),
      wake_(std::move(wake)),
      spare_(open("/dev/null", O_RDONLY | O_CLOEXEC)),
      directory_(emptyDirectory()),
      random_(randomSeed(config.randomSeed)) {}

DnsServer::Loop::~Loop() { stop(); }

void DnsServer::Loop::stop() {
  stopping_ = true;
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = write(wake_.get(), &one, sizeof(one));
  if (thread_.joinable()) {
    thread_.join();
  }
}

DnsServerStats DnsServer::Loop::stats() const {
  return DnsServerStats{answered_.load(), forwarded_.load(), servfail_.load(), malformed_.load()};
}

void DnsServer::Loop::post(std::function<void()> change) {
  {
    std::lock_guard lock(queueMutex_);
    queue_.push_back(std::move(change));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = write(wake_.get(), &one, sizeof(one));
}

void DnsServer::Loop::addSandbox(std::string taskId, std::vector<std::string> networkIds,
                                 UniqueFd udp, UniqueFd tcp) {
  // std::function needs a copyable callable, so the descriptors travel in a shared pair:
  // closed with it if the change never runs (posted after stop()).
  auto fds = std::make_shared<std::pair<UniqueFd, UniqueFd>>(std::move(udp), std::move(tcp));
  post([this, taskId = std::move(taskId), networkIds = std::move(networkIds), fds] {
    dropSandbox(taskId);
    auto sandbox = std::make_unique<Sandbox>();
    sandbox->taskId = taskId;
    sandbox->networkIds = networkIds;
    sandbox->udp = std::move(fds->first);
    sandbox->tcp = std::move(fds->second);
    int udpFd = sandbox->udp.get();
    int tcpFd = sandbox->tcp.get();
    sandbox->udpToken = newToken(kUdpKind);
    sandbox->tcpToken = newToken(kListenerKind);
    if (!watch(udpFd, sandbox->udpToken, EPOLLIN) || !watch(tcpFd, sandbox->tcpToken, EPOLLIN)) {
      spdlog::error("dns: sandbox of task {} cannot be watched: {}", taskId, errnoText(errno));
      return;
    }
    byToken_[sandbox->udpToken] = sandbox.get();
    byToken_[sandbox->tcpToken] = sandbox.get();
    sandboxes_[taskId] = std::move(sandbox);
  });
}

void DnsServer::Loop::updateNetworks(std::string taskId, std::vector<std::string> networkIds) {
  post([this, taskId = std::move(taskId), networkIds = std::move(networkIds)] {
    if (auto it = sandboxes_.find(taskId); it != sandboxes_.end()) {
      it->second->networkIds = networkIds;
    }
  });
}

void DnsServer::Loop::removeSandbox(std::string taskId) {
  // Waits until the sockets are closed, so that an attach right after a detach can bind
  // 127.0.0.11:53 again in the same namespace. Bounded: a stopped loop never answers.
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> closed = done->get_future();
  post([this, taskId = std::move(taskId), done] {
    dropSandbox(taskId);
    done->set_value();
  });
  if (!stopping_) {
    closed.wait_for(std::chrono::seconds(2));
  }
}

void DnsServer::Loop::setDirectory(std::shared_ptr<const DnsDirectory> directory) {
  post([this, directory = std::move(directory)] {
    directory_ = directory ? directory : emptyDirectory();
  });
}

void DnsServer::Loop::runQueued() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto readBytes = read(wake_.get(), &count, sizeof(count));
  std::vector<std::function<void()>> changes;
  {
    std::lock_guard lock(queueMutex_);
    changes.swap(queue_);
  }
  for (auto& change : changes) {
    change();
  }
}

DnsServer::Loop::Token DnsServer::Loop::newToken(int kind) {
  return (static_cast<Token>(kind) << 56) | nextToken_++;
}

bool DnsServer::Loop::watch(int fd, Token token, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = token;
  return epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
}

void DnsServer::Loop::dropSandbox(const std::string& taskId) {
  auto it = sandboxes_.find(taskId);
  if (it == sandboxes_.end()) {
    return;
  }
  byToken_.erase(it->second->udpToken);
  byToken_.erase(it->second->tcpToken);
  std::vector<Token> open;
  for (const auto& [token, connection] : connections_) {
    if (connection->taskId == taskId) {
      open.push_back(token);
    }
  }
  for (Token token : open) {
    closeTcp(token);
  }
  // Closing a descriptor removes it from epoll. Forwards for this sandbox find no
  // reply target when their answer comes and are dropped then.
  sandboxes_.erase(it);
}

void DnsServer::Loop::run() {
  // Thread: the resolver's event thread; owns every socket of every sandbox.
  reloadUpstreams();
  std::array<epoll_event, 64> events{};
  auto nextTick = Clock::now() + kTick;
  while (!stopping_) {
    int ready = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                           static_cast<int>(kTick.count()));
    if (ready < 0 && errno != EINTR) {
      spdlog::critical("dns: epoll_wait: {}; the embedded resolver stops", errnoText(errno));
      break;
    }
    for (int i = 0; i < ready; ++i) {
      Token token = events[i].data.u64;
      switch (kindOf(token)) {
        case kWakeKind:
          runQueued();
          break;
        case kUdpKind:
          if (auto it = byToken_.find(token); it != byToken_.end()) {
            readUdp(*it->second);
          }
          break;
        case kListenerKind:
          if (auto it = byToken_.find(token); it != byToken_.end()) {
            acceptTcp(*it->second);
          }
          break;
        case kConnectionKind:
          if (auto it = connections_.find(token); it != connections_.end()) {
            TcpConnection& connection = *it->second;
            if ((events[i].events & EPOLLOUT) != 0) {
              flushTcp(token, connection);
            }
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !connection.closing) {
              readTcp(token, connection);
            }
            if (connection.closing) {
              closeTcp(token);
            }
          }
          break;
        case kForwardKind:
          if (auto it = forwards_.find(token); it != forwards_.end()) {
            if (it->second->replyTo.tcp) {
              serveTcpForward(token, *it->second, events[i].events);
            } else {
              readForward(token, *it->second);
            }
          }
          break;
        default:
          break;
      }
    }
    auto now = Clock::now();
    if (now >= nextTick) {
      expire(now);
      nextTick = now + kTick;
    }
  }
  runQueued();  // adopt (and so close) descriptors handed over after the last round
  connections_.clear();
  forwards_.clear();
  byToken_.clear();
  sandboxes_.clear();
}

void DnsServer::Loop::readUdp(Sandbox& sandbox) {
  UdpBatch& batch = *batch_;
  for (int round = 0; round < kUdpRounds; ++round) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      batch.inVectors[i] = {batch.in[i].data(), batch.in[i].size()};
      batch.inHeaders[i] = {};
      batch.inHeaders[i].msg_hdr.msg_name = &batch.from[i];
      batch.inHeaders[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      batch.inHeaders[i].msg_hdr.msg_iov = &batch.inVectors[i];
      batch.inHeaders[i].msg_hdr.msg_iovlen = 1;
    }
    int received =
        recvmmsg(sandbox.udp.get(), batch.inHeaders.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) {
      return;  // EAGAIN: drained; anything else is about one datagram, not the socket
    }
    batch.token = sandbox.udpToken;
    batch.pending = 0;
    for (int i = 0; i < received; ++i) {
      const msghdr& header = batch.inHeaders[i].msg_hdr;
      if ((header.msg_flags & MSG_TRUNC) != 0) {
        ++malformed_;
        continue;
      }
      ReplyTo replyTo;
      replyTo.token = sandbox.udpToken;
      replyTo.client = batch.from[i];
      handleQuery(sandbox, std::span(batch.in[i].data(), batch.inHeaders[i].msg_len), replyTo);
    }
    batch.token = 0;
    for (std::size_t i = 0; i < batch.pending; ++i) {
      batch.outVectors[i] = {batch.out[i].data(), batch.out[i].size()};
      batch.outHeaders[i] = {};
      batch.outHeaders[i].msg_hdr.msg_name = &batch.to[i];
      batch.outHeaders[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      batch.outHeaders[i].msg_hdr.msg_iov = &batch.outVectors[i];
      batch.outHeaders[i].msg_hdr.msg_iovlen = 1;
    }
    // A full socket buffer drops answers, as the network would: the clients retry.
    if (batch.pending > 0) {
      sendmmsg(sandbox.udp.get(), batch.outHeaders.data(), static_cast<unsigned>(batch.pending),
               MSG_DONTWAIT);
    }
    if (static_cast<std::size_t>(received) < kBatch) {
      return;
    }
  }
}

void DnsServer::Loop::acceptTcp(Sandbox& sandbox) {
  while (true) {
    UniqueFd fd(accept4(sandbox.tcp.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if ((errno == EMFILE || errno == ENFILE) && spare_.valid()) {
        // Out of descriptors: refuse this connection by accepting it on the spare slot
        // and closing it, so the listener stops being readable.
        spare_.reset();
        UniqueFd refused(accept4(sandbox.tcp.get(), nullptr, nullptr, SOCK_CLOEXEC));
        refused.reset();
        spare_ = UniqueFd(open("/dev/null", O_RDONLY | O_CLOEXEC));
        spdlog::warn("embedded DNS: out of file descriptors; a TCP query of task {} refused",
                     sandbox.taskId);
        continue;
      }
      return;
    }
    if (sandbox.tcpConnections >= config_.maxTcpConnectionsPerSandbox) {
      continue;  // closed at once: the bound on what one sandbox can hold open
    }
    Token token = newToken(kConnectionKind);
    if (!watch(fd.get(), token, EPOLLIN)) {
      continue;
    }
    auto connection = std::make_unique<TcpConnection>();
    connection->taskId = sandbox.taskId;
    connection->fd = std::move(fd);
    connection->lastActive = Clock::now();
    connections_[token] = std::move(connection);
    ++sandbox.tcpConnections;
  }
}

void DnsServer::Loop::readTcp(Token token, TcpConnection& connection) {
  auto sandbox = sandboxes_.find(connection.taskId);
  if (sandbox == sandboxes_.end()) {
    connection.closing = true;
    return;
  }
  std::array<std::uint8_t, 16384> buffer;
  ssize_t received = read(connection.fd.get(), buffer.data(), buffer.size());
  if (received == 0 || (received < 0 && errno != EAGAIN && errno != EINTR)) {
    connection.closing = true;
    return;
  }
  if (received < 0) {
    return;
  }
  connection.lastActive = Clock::now();
  connection.in.insert(connection.in.end(), buffer.begin(), buffer.begin() + received);
  std::size_t at = 0;
  while (connection.in.size() - at >= 2 && !connection.closing) {
    std::size_t length = (static_cast<std::size_t>(connection.in[at]) << 8) | connection.in[at + 1];
    if (connection.in.size() - at - 2 < length) {
      break;
    }
    ReplyTo replyTo;
    replyTo.token = token;
    replyTo.tcp = true;
    // Copy: answering may append to connection.out, never to connection.in, but a
    // forward keeps its own copy anyway.
    handleQuery(*sandbox->second, std::span(connection.in.data() + at + 2, length), replyTo);
    at += 2 + length;
  }
  connection.in.erase(connection.in.begin(), connection.in.begin() + static_cast<long>(at));
  if (connection.in.size() > kMaxTcpBuffered) {
    connection.closing = true;
  }
}

void DnsServer::Loop::flushTcp(Token token, TcpConnection& connection) {
  while (connection.outSent < connection.out.size()) {
    ssize_t sent = send(connection.fd.get(), connection.out.data() + connection.outSent,
                        connection.out.size() - connection.outSent, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        break;
      }
      connection.closing = true;
      return;
    }
    connection.outSent += static_cast<std::size_t>(sent);
  }
  if (connection.outSent == connection.out.size()) {
    connection.out.clear();
    connection.outSent = 0;
  }
  bool wantWrite = !connection.out.empty();
  if (wantWrite != connection.writing) {
    epoll_event event{};
    event.events = static_cast<std::uint32_t>(EPOLLIN) |
                   (wantWrite ? static_cast<std::uint32_t>(EPOLLOUT) : 0U);
    event.data.u64 = token;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, connection.fd.get(), &event) != 0) {
      connection.closing = true;
      return;
    }
    connection.writing = wantWrite;
  }
}

void DnsServer::Loop::closeTcp(Token token) {
  auto it = connections_.find(token);
  if (it == connections_.end()) {
    return;
  }
  if (auto sandbox = sandboxes_.find(it->second->taskId); sandbox != sandboxes_.end()) {
    --sandbox->second->tcpConnections;
  }
  connections_.erase(it);
}

void DnsServer::Loop::handleQuery(Sandbox& sandbox, std::span<const std::uint8_t> message,
                                  const ReplyTo& replyTo) {
  std::array<char, 256> name;
  DnsQuery query = parseQuery(message, name);
  switch (query.verdict) {
    case QueryVerdict::Drop:
      ++malformed_;
      return;
    case QueryVerdict::FormErr:
      ++malformed_;
      writeError(query, Rcode::FormErr, answer_);
      deliver(replyTo, answer_);
      return;
    case QueryVerdict::NotImp:
      ++malformed_;
      writeError(query, Rcode::NotImp, answer_);
      deliver(replyTo, answer_);
      return;
    case QueryVerdict::Ok:
      break;
  }
  constexpr std::uint16_t kClassAny = 255;
  constexpr std::uint16_t kTypeAny = 255;
  if (!query.plainName || (query.qclass != kClassIn && query.qclass != kClassAny)) {
    startForward(sandbox, message, query, replyTo);
    return;
  }
  LookupResult result = directory_->lookup(query.name, sandbox.networkIds, random_, addresses_);
  std::size_t limit = replyTo.tcp ? kMaxTcpSize : udpAnswerLimit(query);
  switch (result.kind) {
    case LookupKind::Found: {
      bool withAddresses = query.type == kTypeA || query.type == kTypeAny;
      std::span<const std::uint32_t> records = withAddresses
                                                   ? std::span<const std::uint32_t>(addresses_)
                                                   : std::span<const std::uint32_t>();
      writeAnswer(query, Rcode::NoError, records, result.ttl, limit, answer_);
      break;
    }
    case LookupKind::NoData:
      writeAnswer(query, Rcode::NoError, {}, result.ttl, limit, answer_);
      break;
    case LookupKind::NotFound:
      writeError(query, Rcode::NxDomain, answer_);
      break;
    case LookupKind::Forward:
      startForward(sandbox, message, query, replyTo);
      return;
  }
  ++answered_;
  deliver(replyTo, answer_);
}

void DnsServer::Loop::deliver(const ReplyTo& replyTo, std::span<const std::uint8_t> answer) {
  if (!replyTo.tcp) {
    UdpBatch& batch = *batch_;
    if (replyTo.token == batch.token && batch.pending < kBatch) {
      batch.out[batch.pending].assign(answer.begin(), answer.end());
      batch.to[batch.pending] = replyTo.client;
      ++batch.pending;
      return;
    }
    auto it = byToken_.find(replyTo.token);
    if (it == byToken_.end()) {
      return;  // the sandbox left meanwhile
    }
    // A full socket buffer drops the answer, as the network would: the client retries.
    sendto(it->second->udp.get(), answer.data(), answer.size(), MSG_DONTWAIT,
           reinterpret_cast<const sockaddr*>(&replyTo.client), sizeof(replyTo.client));
    return;
  }
  auto it = connections_.find(replyTo.token);
  if (it == connections_.end() || answer.size() > kMaxTcpSize) {
    return;
  }
  TcpConnection& connection = *it->second;
  if (connection.out.size() + answer.size() + 2 > kMaxTcpBuffered) {
    connection.closing = true;  // it does not read its answers
    return;
  }
  connection.out.push_back(static_cast<std::uint8_t>(answer.size() >> 8));
  connection.out.push_back(static_cast<std::uint8_t>(answer.size()));
  connection.out.insert(connection.out.end(), answer.begin(), answer.end());
  flushTcp(replyTo.token, connection);
}

void DnsServer::Loop::startForward(Sandbox& sandbox, std::span<const std::uint8_t> message,
                                   const DnsQuery& query, const ReplyTo& replyTo) {
  // Both bounds answer SERVFAIL at once rather than queue: the per-sandbox one keeps a task
  // that floods unknown names from taking every slot the other sandboxes need.
  if (upstreams_.empty() || forwards_.size() >= config_.maxForwardsInFlight ||
      sandbox.forwards >= config_.maxForwardsPerSandbox) {
    ++servfail_;
    writeError(query, Rcode::ServFail, answer_);
    deliver(replyTo, answer_);
    return;
  }
  auto forward = std::make_unique<Forward>();
  forward->sandboxToken = sandbox.udpToken;
  forward->query.assign(message.begin(), message.end());
  forward->clientId = query.id;
  setMessageId(forward->query, static_cast<std::uint16_t>(random_.next()));
  forward->replyTo = replyTo;
  Token token = newToken(kForwardKind);
  if (!sendUpstream(token, *forward, 0)) {
    ++servfail_;
    writeError(query, Rcode::ServFail, answer_);
    deliver(replyTo, answer_);
    return;
  }
  ++forwarded_;
  ++sandbox.forwards;
  forwards_[token] = std::move(forward);
}

bool DnsServer::Loop::sendUpstream(Token token, Forward& forward, std::size_t firstUpstream) {
  bool tcp = forward.replyTo.tcp;
  for (std::size_t i = firstUpstream; i < upstreams_.size(); ++i) {
    // A fresh socket per attempt: a late answer from the previous upstream cannot be
    // taken for this one's, and each attempt gets a new random source port.
    UniqueFd fd(
        socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      return false;  // out of descriptors: no other upstream would fare better
    }
    const sockaddr_in& upstream = upstreams_[i];
    int connected =
        connect(fd.get(), reinterpret_cast<const sockaddr*>(&upstream), sizeof(upstream));
    if (tcp) {
      // The query is written once connected (EPOLLOUT), in serveTcpForward.
      if ((connected != 0 && errno != EINPROGRESS) || !watch(fd.get(), token, EPOLLIN | EPOLLOUT)) {
        continue;
      }
      forward.sent = 0;
      forward.received.clear();
    } else if (connected != 0 ||
               send(fd.get(), forward.query.data(), forward.query.size(), 0) < 0 ||
               !watch(fd.get(), token, EPOLLIN)) {
      continue;
    }
    forward.fd = std::move(fd);
    forward.upstream = i;
    forward.deadline = Clock::now() + config_.upstreamTimeout;
    return true;
  }
  return false;
}

void DnsServer::Loop::nextUpstream(Token token, Forward& forward) {
  if (!sendUpstream(token, forward, forward.upstream + 1)) {
    failForward(token, forward);
  }
}

void DnsServer::Loop::answerForward(Token token, Forward& forward, std::span<std::uint8_t> reply) {
  setMessageId(reply, forward.clientId);
  ReplyTo replyTo = forward.replyTo;
  deliver(replyTo, reply);  // before finishForward: `reply` may point into the forward
  finishForward(token);
  if (replyTo.tcp) {
    if (auto it = connections_.find(replyTo.token);
        it != connections_.end() && it->second->closing) {
      closeTcp(replyTo.token);
    }
  }
}

void DnsServer::Loop::readForward(Token token, Forward& forward) {
  std::array<std::uint8_t, kMaxDatagram> buffer;
  ssize_t received = recv(forward.fd.get(), buffer.data(), buffer.size(), 0);
  if (received < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      nextUpstream(token, forward);  // ECONNREFUSED and friends: that upstream is not there
    }
    return;
  }
  std::span<std::uint8_t> reply(buffer.data(), static_cast<std::size_t>(received));
  if (!isResponse(reply) || messageId(reply) != messageId(forward.query)) {
    return;  // not the answer to our question: keep waiting
  }
  answerForward(token, forward, reply);
}

void DnsServer::Loop::serveTcpForward(Token token, Forward& forward, std::uint32_t events) {
  if ((events & EPOLLERR) != 0) {
    nextUpstream(token, forward);  // refused or reset
    return;
  }
  std::size_t frameSize = 2 + forward.query.size();
  if ((events & EPOLLOUT) != 0 && forward.sent < frameSize) {
    std::array<std::uint8_t, 2> length = {static_cast<std::uint8_t>(forward.query.size() >> 8),
                                          static_cast<std::uint8_t>(forward.query.size())};
    while (forward.sent < frameSize) {
      ssize_t sent = forward.sent < 2
                         ? send(forward.fd.get(), length.data() + forward.sent, 2 - forward.sent,
                                MSG_NOSIGNAL | MSG_MORE)
                         : send(forward.fd.get(), forward.query.data() + (forward.sent - 2),
                                frameSize - forward.sent, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          return;
        }
        nextUpstream(token, forward);
        return;
      }
      forward.sent += static_cast<std::size_t>(sent);
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = token;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, forward.fd.get(), &event) != 0) {
      nextUpstream(token, forward);
      return;
    }
  }
  if ((events & (EPOLLIN | EPOLLHUP)) == 0) {
    return;
  }
  std::array<std::uint8_t, 16384> chunk;
  ssize_t received = recv(forward.fd.get(), chunk.data(), chunk.size(), 0);
  if (received < 0 && (errno == EAGAIN || errno == EINTR)) {
    return;
  }
  if (received <= 0) {
    nextUpstream(token, forward);  // closed before a whole answer: ask the next one
    return;
  }
  forward.received.insert(forward.received.end(), chunk.begin(), chunk.begin() + received);
  if (forward.received.size() < 2) {
    return;
  }
  std::size_t length = (std::size_t{forward.received[0]} << 8) | forward.received[1];
  if (forward.received.size() < 2 + length) {
    return;  // at most 2 + 65535 bytes: the length field bounds it
  }
  std::span<std::uint8_t> reply(forward.received.data() + 2, length);
  if (!isResponse(reply) || messageId(reply) != messageId(forward.query)) {
    nextUpstream(token, forward);  // a TCP upstream answering something else is broken
    return;
  }
  answerForward(token, forward, reply);
}

void DnsServer::Loop::failForward(Token token, Forward& forward) {
  std::array<char, 256> name;
  DnsQuery query = parseQuery(forward.query, name);
  query.id = forward.clientId;
  ReplyTo replyTo = forward.replyTo;
  ++servfail_;
  writeError(query, Rcode::ServFail, answer_);  // before the erase: query points into it
  finishForward(token);
  deliver(replyTo, answer_);
  if (replyTo.tcp) {
    if (auto it = connections_.find(replyTo.token);
        it != connections_.end() && it->second->closing) {
      closeTcp(replyTo.token);
    }
  }
}

DnsServer::Loop::ReplyTo DnsServer::Loop::finishForward(Token token) {
  auto it = forwards_.find(token);
  ReplyTo replyTo = it->second->replyTo;
  if (auto sandbox = byToken_.find(it->second->sandboxToken); sandbox != byToken_.end()) {
    --sandbox->second->forwards;
  }
  forwards_.erase(it);
  return replyTo;
}

void DnsServer::Loop::expire(Clock::time_point now) {
  std::vector<Token> late;
  for (const auto& [token, forward] : forwards_) {
    if (forward->deadline <= now) {
      late.push_back(token);
    }
  }
  for (Token token : late) {
    Forward& forward = *forwards_.at(token);
    if (!sendUpstream(token, forward, forward.upstream + 1)) {
      failForward(token, forward);
    }
  }
  std::vector<Token> idle;
  for (const auto& [token, connection] : connections_) {
    if (now - connection->lastActive >= config_.tcpIdleTimeout) {
      idle.push_back(token);
    }
  }
  for (Token token : idle) {
    closeTcp(token);
  }
  if (now >= nextUpstreamCheck_) {
    reloadUpstreams();
    nextUpstreamCheck_ = now + kUpstreamCheckInterval;
  }
}

void DnsServer::Loop::reloadUpstreams() {
  struct stat info {};
  if (stat(config_.resolvConfPath.c_str(), &info) != 0) {
    if (resolvConfSize_ != -1 || upstreams_.size() != 0) {
      spdlog::warn("dns: cannot read {}: {}; names that are not the cluster's get SERVFAIL",
                   config_.resolvConfPath, errnoText(errno));
    }
    upstreams_.clear();
    resolvConfSize_ = -1;
    return;
  }
  if (info.st_ino == resolvConfInode_ && info.st_size == resolvConfSize_ &&
      info.st_mtim.tv_sec == resolvConfMtime_.tv_sec &&
      info.st_mtim.tv_nsec == resolvConfMtime_.tv_nsec) {
    return;
  }
  resolvConfInode_ = info.st_ino;
  resolvConfSize_ = info.st_size;
  resolvConfMtime_ = info.st_mtim;
  std::ifstream file(config_.resolvConfPath, std::ios::binary);
  std::string text(kMaxResolvConfSize, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(file.gcount()));
  upstreams_.clear();
  std::string names;
  for (const auto& address : parseResolvConf(text)) {
    sockaddr_in upstream{};
    upstream.sin_family = AF_INET;
    upstream.sin_port = htons(53);
    upstream.sin_addr.s_addr = htonl(address.value());
    upstreams_.push_back(upstream);
    names += (names.empty() ? "" : ", ") + address.toString();
  }
  spdlog::info("dns: upstream resolvers from {}: {}", config_.resolvConfPath,
               names.empty() ? "none" : names);
}

}  // namespace overmesh::dns
