#include "api/tls_relay.h"

#include <openssl/err.h>
#include <sys/socket.h>

#include <cerrno>

namespace overmesh::api {

TlsRelay::TlsRelay(SSL* ssl, int plainFd, std::chrono::milliseconds stall, bool idleIsStall,
                   Clock::time_point now)
    : ssl_(ssl), plainFd_(plainFd), stall_(stall), idleIsStall_(idleIsStall), lastProgress_(now) {}

void TlsRelay::release(std::string& buffer) { std::string().swap(buffer); }

std::optional<TlsRelay::Clock::time_point> TlsRelay::deadline() const {
  if (idleIsStall_ || !toPlain_.empty() || !toTls_.empty()) {
    return lastProgress_ + stall_;
  }
  return std::nullopt;
}

bool TlsRelay::pump(Clock::time_point now, char* scratch) {
  bool moved = false;
  bool progress = true;
  while (progress) {
    progress = false;
    if (!step(scratch, progress)) {
      return false;
    }
    moved = moved || progress;
  }
  // The passes ran until nothing moved; whether anything did is whether the stall
  // deadline restarts.
  if (moved) {
    lastProgress_ = now;
  }
  auto due = deadline();
  return !(due && *due <= now);
}

bool TlsRelay::step(char* scratch, bool& progress) {
  interest_ = Interest{};
  // SSL_read first whenever there is room: it also drains records OpenSSL already holds
  // (SSL_pending), which epoll cannot see.
  if (!tlsEof_ && toPlain_.empty()) {
    ERR_clear_error();
    int n = SSL_read(ssl_, scratch, static_cast<int>(kBufferBytes));
    if (n > 0) {
      toPlain_.assign(scratch, static_cast<std::size_t>(n));
      progress = true;
    } else {
      switch (SSL_get_error(ssl_, n)) {
        case SSL_ERROR_WANT_READ:
          interest_.tcpRead = true;
          break;
        case SSL_ERROR_WANT_WRITE:
          interest_.tcpWrite = true;
          break;
        case SSL_ERROR_ZERO_RETURN:
          tlsEof_ = true;
          progress = true;
          break;
        default:
          // Reset, shut down by closeConnections(), or a TLS error: nothing more can
          // reach the client.
          ERR_clear_error();
          return false;
      }
    }
  }
  if (!toPlain_.empty()) {
    ssize_t n = send(plainFd_, toPlain_.data(), toPlain_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      toPlain_.erase(0, static_cast<std::size_t>(n));
      if (toPlain_.empty()) {
        release(toPlain_);
      }
      progress = true;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      interest_.plainWrite = true;
    } else if (!(n < 0 && errno == EINTR)) {
      return false;  // the HTTP server closed the connection
    }
  }
  if (tlsEof_ && toPlain_.empty() && !plainShut_) {
    shutdown(plainFd_, SHUT_WR);  // half-close: the server still answers
    plainShut_ = true;
  }
  if (!plainEof_ && toTls_.empty()) {
    ssize_t n = recv(plainFd_, scratch, kBufferBytes, 0);
    if (n > 0) {
      toTls_.assign(scratch, static_cast<std::size_t>(n));
      toTlsSent_ = 0;
      progress = true;
    } else if (n == 0) {
      plainEof_ = true;
      progress = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      interest_.plainRead = !plainHup_;
    } else if (errno != EINTR) {
      return false;
    }
  }
  if (!toTls_.empty()) {
    // SSL_write is retried with the same bytes after WANT_WRITE (OpenSSL requires it);
    // toTlsSent_ counts what it took, the buffer itself stays put until all is sent.
    ERR_clear_error();
    int n =
        SSL_write(ssl_, toTls_.data() + toTlsSent_, static_cast<int>(toTls_.size() - toTlsSent_));
    if (n > 0) {
      toTlsSent_ += static_cast<std::size_t>(n);
      if (toTlsSent_ == toTls_.size()) {
        release(toTls_);
        toTlsSent_ = 0;
      }
      progress = true;
    } else {
      switch (SSL_get_error(ssl_, n)) {
        case SSL_ERROR_WANT_WRITE:
          interest_.tcpWrite = true;
          break;
        case SSL_ERROR_WANT_READ:
          interest_.tcpRead = true;
          break;
        default:
          ERR_clear_error();
          return false;
      }
    }
  }
  if (plainEof_ && toTls_.empty()) {
    // The server is done (it closes after an answer, or at its idle timeout): say so to
    // the client (close_notify, best effort) and end.
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
    return false;
  }
  return true;
}

void beginLinger(int fd) { shutdown(fd, SHUT_WR); }

bool drainLinger(int fd, char* scratch) {
  // Bounded per call: a client that keeps sending does not hold the loop; the socket
  // stays readable and the loop comes back.
  for (int i = 0; i < 16; ++i) {
    ssize_t n = recv(fd, scratch, TlsRelay::kBufferBytes, 0);
    if (n > 0) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return true;
    }
    return false;
  }
  return true;
}

}  // namespace overmesh::api
