#include "api/tls_relay.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>

namespace overmesh::api {

// After a refused handshake: the alert OpenSSL wrote must reach the client before the
// socket closes. Closing with the client's unread bytes (in TLS 1.3 its Finished, maybe
// its first request) in our buffer would send a reset instead, and the client would
// never learn why. So: end our side, then discard what arrives for a moment.
void lingerBeforeClose(int fd, int stopFd) {
  shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  char buffer[4096];
  while (true) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      return;
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {stopFd, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(remaining.count())) <= 0 || fds[1].revents != 0) {
      return;
    }
    if (recv(fd, buffer, sizeof(buffer), 0) <= 0) {
      return;
    }
  }
}

void relayTls(SSL* ssl, int tcpFd, int plainFd, int stopFd, std::chrono::milliseconds stall,
              bool idleIsStall) {
  using Clock = std::chrono::steady_clock;
  auto lastProgress = Clock::now();
  // toPlain: decrypted bytes for the HTTP server; toTls: its answer for the client.
  std::string toPlain;
  std::string toTls;
  bool tlsEof = false;    // the client sent close_notify
  bool plainEof = false;  // the HTTP server closed its side
  bool plainShut = false;
  bool plainHup = false;  // stop polling the plain side: only its EOF is left to read
  char buffer[16 * 1024];
  while (true) {
    bool wantTcpRead = false;
    bool wantTcpWrite = false;
    bool wantPlainRead = false;
    bool wantPlainWrite = false;
    bool movedThisRound = false;
    bool progress = true;
    while (progress) {
      progress = false;
      wantTcpRead = wantTcpWrite = wantPlainRead = wantPlainWrite = false;
      // SSL_read first whenever there is room: it also drains records OpenSSL already
      // holds (SSL_pending), which poll() cannot see.
      if (!tlsEof && toPlain.empty()) {
        ERR_clear_error();
        int n = SSL_read(ssl, buffer, sizeof(buffer));
        if (n > 0) {
          toPlain.assign(buffer, static_cast<std::size_t>(n));
          progress = true;
        } else {
          switch (SSL_get_error(ssl, n)) {
            case SSL_ERROR_WANT_READ:
              wantTcpRead = true;
              break;
            case SSL_ERROR_WANT_WRITE:
              wantTcpWrite = true;
              break;
            case SSL_ERROR_ZERO_RETURN:
              tlsEof = true;
              progress = true;
              break;
            default:
              // Reset, shut down by closeConnections(), or a TLS error: nothing more can
              // reach the client.
              ERR_clear_error();
              return;
          }
        }
      }
      if (!toPlain.empty()) {
        ssize_t n = send(plainFd, toPlain.data(), toPlain.size(), MSG_NOSIGNAL);
        if (n > 0) {
          toPlain.erase(0, static_cast<std::size_t>(n));
          progress = true;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          wantPlainWrite = true;
        } else if (!(n < 0 && errno == EINTR)) {
          return;  // the HTTP server closed the connection
        }
      }
      if (tlsEof && toPlain.empty() && !plainShut) {
        shutdown(plainFd, SHUT_WR);  // half-close: the server still answers
        plainShut = true;
      }
      if (!plainEof && toTls.empty()) {
        ssize_t n = recv(plainFd, buffer, sizeof(buffer), 0);
        if (n > 0) {
          toTls.assign(buffer, static_cast<std::size_t>(n));
          progress = true;
        } else if (n == 0) {
          plainEof = true;
          progress = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          wantPlainRead = true;
        } else if (errno != EINTR) {
          return;
        }
      }
      if (!toTls.empty()) {
        ERR_clear_error();
        int n = SSL_write(ssl, toTls.data(), static_cast<int>(toTls.size()));
        if (n > 0) {
          toTls.erase(0, static_cast<std::size_t>(n));
          progress = true;
        } else {
          switch (SSL_get_error(ssl, n)) {
            case SSL_ERROR_WANT_WRITE:
              wantTcpWrite = true;
              break;
            case SSL_ERROR_WANT_READ:
              wantTcpRead = true;
              break;
            default:
              ERR_clear_error();
              return;
          }
        }
      }
      if (plainEof && toTls.empty()) {
        // The server is done (it closes after an answer, or at its idle timeout): say
        // so to the client (close_notify, best effort) and end.
        ERR_clear_error();
        SSL_shutdown(ssl);
        ERR_clear_error();
        return;
      }
      movedThisRound = movedThisRound || progress;
    }
    // The inner loop ran until nothing moved; whether anything did this round is
    // whether the deadline restarts.
    if (movedThisRound) {
      lastProgress = Clock::now();
    }
    int timeout = -1;
    if (idleIsStall || !toPlain.empty() || !toTls.empty()) {
      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(lastProgress + stall -
                                                                             Clock::now());
      if (remaining.count() <= 0) {
        return;  // stalled: the caller closes the connection
      }
      timeout = static_cast<int>(remaining.count());
    }
    short tcpEvents = static_cast<short>((wantTcpRead ? POLLIN : 0) | (wantTcpWrite ? POLLOUT : 0));
    short plainEvents =
        static_cast<short>((wantPlainRead ? POLLIN : 0) | (wantPlainWrite ? POLLOUT : 0));
    pollfd fds[3] = {
        {tcpFd, tcpEvents, 0}, {plainHup ? -1 : plainFd, plainEvents, 0}, {stopFd, POLLIN, 0}};
    if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
      return;
    }
    if (fds[2].revents != 0) {
      return;
    }
    // A hang-up or error on the client's side (closeConnections() shuts it down): no
    // answer can reach it any more.
    if ((fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      return;
    }
    if ((fds[1].revents & (POLLERR | POLLNVAL)) != 0) {
      return;
    }
    if ((fds[1].revents & POLLHUP) != 0) {
      plainHup = true;
    }
  }
}

}  // namespace overmesh::api
