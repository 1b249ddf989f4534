#pragma once

// Moving bytes for one TLS connection of the listener (api/tls_listener.h), after its
// handshake: between the client (OpenSSL over the TCP socket) and the HTTP server (the
// plain side of a socketpair). A state machine driven by the listener's event loop: it
// never blocks and owns no thread; the loop calls pump() when one of the two sockets is
// ready (or the deadline passed) and then waits for what interest() names.

#include <openssl/ssl.h>

#include <chrono>
#include <optional>
#include <string>

namespace overmesh::api {

class TlsRelay {
 public:
  using Clock = std::chrono::steady_clock;
  // At most this many bytes wait in each direction: a side is read only once what it
  // sent before was passed on (backpressure), so a client that stops reading holds at
  // most this much here, and stops the HTTP server's side instead.
  static constexpr std::size_t kBufferBytes = 16 * 1024;

  // What the relay waits for before the next pump().
  struct Interest {
    bool tcpRead = false;
    bool tcpWrite = false;
    bool plainRead = false;
    bool plainWrite = false;
  };

  // `ssl` is connected over a non-blocking TCP socket; `plainFd` is the non-blocking
  // plain side. Neither is owned: the caller frees and closes them once pump() said the
  // relay is over. Stalls: while bytes wait in either direction (a client that stopped
  // reading its answers, with a zero window), the relay ends after `stall` without
  // progress. With `idleIsStall` (join connections) it also ends after `stall` with
  // nothing moving at all. An idle member connection (a watch long-poll waiting) has no
  // deadline here.
  TlsRelay(SSL* ssl, int plainFd, std::chrono::milliseconds stall, bool idleIsStall,
           Clock::time_point now);

  // Moves every byte that can move now, both ways, and returns whether the relay goes
  // on. Decrypted client bytes go to the plain side, the server's answers back through
  // `ssl`. A client's close_notify half-closes the plain side (the server still
  // answers); the server closing its side sends close_notify (best effort) and ends. A
  // reset or a TLS error ends at once, as does a stall past the deadline (`now`).
  // `scratch` (kBufferBytes) is the caller's, shared by every relay of one loop.
  bool pump(Clock::time_point now, char* scratch);

  // What to wait for; valid after pump() returned true.
  Interest interest() const { return interest_; }
  // When pump() must run again even if no socket is ready (the stall deadline), or
  // nullopt.
  std::optional<Clock::time_point> deadline() const;
  // The plain socket hung up (the HTTP server closed its end): stop waiting on it; the
  // next pump() reads its end once the answers before it reached the client.
  void plainHungUp() { plainHup_ = true; }
  bool plainHungUpAlready() const { return plainHup_; }

 private:
  // One pass over both directions; sets `interest_` from what would block; false: over.
  bool step(char* scratch, bool& progress);
  // Frees a drained buffer's memory: an idle connection holds none.
  static void release(std::string& buffer);

  SSL* ssl_;
  int plainFd_;
  std::chrono::milliseconds stall_;
  bool idleIsStall_;
  Clock::time_point lastProgress_;
  std::string toPlain_;  // decrypted bytes for the HTTP server
  std::string toTls_;    // its answer for the client
  std::size_t toTlsSent_ = 0;
  bool tlsEof_ = false;    // the client sent close_notify
  bool plainEof_ = false;  // the HTTP server closed its side
  bool plainShut_ = false;
  bool plainHup_ = false;
  Interest interest_;
};

// After a refused handshake, before closing: ends our side so that the alert OpenSSL
// wrote reaches the client (closing with its unread bytes in our buffer would send a
// reset instead). The listener then discards what the client still sends for
// kLingerTime and closes.
inline constexpr std::chrono::milliseconds kLingerTime{200};
void beginLinger(int fd);
// Discards what arrived; false once the client ended (EOF or error): close now.
bool drainLinger(int fd, char* scratch);

}  // namespace overmesh::api
