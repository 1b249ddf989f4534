#include "support/tls_exchange.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace overmesh::testing {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// OpenSSL's queued errors as text (emptying the queue), or `fallback`.
std::string opensslReason(const std::string& fallback) {
  std::string reason;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    reason += (reason.empty() ? "" : "; ") + std::string(text);
  }
  return reason.empty() ? fallback : reason;
}

// Loads the client certificate and key of `identity` into `context`.
bool useIdentity(SSL_CTX* context, const TlsIdentity& identity, std::string& error) {
  std::unique_ptr<BIO, BioFree> certBio(
      BIO_new_mem_buf(identity.certPem.data(), static_cast<int>(identity.certPem.size())));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(certBio.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<BIO, BioFree> keyBio(
      BIO_new_mem_buf(identity.keyPem.data(), static_cast<int>(identity.keyPem.size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr));
  if (!cert || !key || SSL_CTX_use_certificate(context, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(context, key.get()) != 1) {
    error = opensslReason("the client certificate or key is not usable PEM");
    return false;
  }
  return true;
}

int connectTo(const std::string& address, int port, std::chrono::seconds silence,
              std::string& error) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "socket failed";
    return -1;
  }
  timeval timeout{static_cast<time_t>(silence.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &peer.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) != 0) {
    error = "cannot connect to " + address + ":" + std::to_string(port);
    close(fd);
    return -1;
  }
  return fd;
}

// ALPN: take the client's first protocol, whatever it is.
int takeFirstAlpn(SSL*, const unsigned char** out, unsigned char* outLength,
                  const unsigned char* in, unsigned int inLength, void*) {
  if (inLength == 0 || in[0] == 0 || in[0] + 1u > inLength) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = in + 1;
  *outLength = in[0];
  return SSL_TLSEXT_ERR_OK;
}

void ignoreSigpipe() {
  // A write to a connection the peer closed must fail with EPIPE, not kill the test:
  // OpenSSL writes with write(2), which raises SIGPIPE. No test relies on SIGPIPE.
  static const bool ignored = [] { return signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)ignored;
}

// The length a request head announces (0 without Content-Length).
std::size_t contentLength(const std::string& head) {
  for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
    auto at = head.find(name);
    if (at != std::string::npos) {
      return std::strtoul(head.c_str() + at + std::strlen(name), nullptr, 10);
    }
  }
  return 0;
}

}  // namespace

std::string serveOneOverTls(int fd, const TlsIdentity& identity, const TlsResponder& respond,
                            std::chrono::seconds silence) {
  ignoreSigpipe();
  timeval timeout{static_cast<time_t>(silence.count()), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::unique_ptr<SSL_CTX, SslCtxFree> context(SSL_CTX_new(TLS_server_method()));
  std::string error;
  if (!context || SSL_CTX_set_min_proto_version(context.get(), TLS1_3_VERSION) != 1 ||
      !useIdentity(context.get(), identity, error)) {
    close(fd);
    return "";
  }
  // Ask for a client certificate (ours present one after a join) but take any, or none.
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  SSL_CTX_set_alpn_select_cb(context.get(), takeFirstAlpn, nullptr);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1 || SSL_accept(ssl.get()) != 1) {
    ERR_clear_error();
    close(fd);
    return "";
  }
  std::string request;
  char buffer[4096];
  std::size_t headEnd = std::string::npos;
  while (headEnd == std::string::npos ||
         request.size() < headEnd + 4 + contentLength(request.substr(0, headEnd + 2))) {
    int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
    if (n <= 0) {
      break;
    }
    request.append(buffer, static_cast<std::size_t>(n));
    headEnd = request.find("\r\n\r\n");
  }
  if (headEnd == std::string::npos) {
    ERR_clear_error();
    close(fd);
    return "";
  }
  std::string line = request.substr(0, request.find("\r\n"));
  std::string body = respond(line, request.substr(headEnd + 4));
  std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  SSL_write(ssl.get(), response.data(), static_cast<int>(response.size()));
  SSL_shutdown(ssl.get());
  // Close only once the client has read everything and closed too: closing with its
  // close_notify still unread would reset the connection and lose our answer.
  ::shutdown(fd, SHUT_WR);
  timeval drain{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &drain, sizeof(drain));
  while (recv(fd, buffer, sizeof(buffer), 0) > 0) {
  }
  ERR_clear_error();
  close(fd);
  return line;
}

TlsExchange exchangeOverTls(const std::string& address, int port, const TlsIdentity& identity,
                            const std::string& request, std::chrono::seconds silence) {
  ignoreSigpipe();
  TlsExchange result;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, SslCtxFree> context(SSL_CTX_new(TLS_client_method()));
  if (!context || SSL_CTX_set_min_proto_version(context.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(context.get(), TLS1_3_VERSION) != 1) {
    result.error = opensslReason("cannot make a TLS 1.3 context");
    return result;
  }
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
  if (!identity.certPem.empty() && !useIdentity(context.get(), identity, result.error)) {
    return result;
  }
  if (!identity.alpn.empty()) {
    std::vector<unsigned char> wire;
    wire.push_back(static_cast<unsigned char>(identity.alpn.size()));
    wire.insert(wire.end(), identity.alpn.begin(), identity.alpn.end());
    // Returns 0 on success (unlike most of OpenSSL).
    if (SSL_CTX_set_alpn_protos(context.get(), wire.data(),
                                static_cast<unsigned int>(wire.size())) != 0) {
      result.error = opensslReason("cannot set the ALPN");
      return result;
    }
  }
  int fd = connectTo(address, port, silence, result.error);
  if (fd < 0) {
    return result;
  }
  result.connected = true;
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    result.error = opensslReason("cannot make the TLS connection");
    close(fd);
    return result;
  }
  if (SSL_connect(ssl.get()) != 1) {
    result.error = opensslReason("the handshake failed");
    close(fd);
    return result;
  }
  result.handshake = true;
  std::string_view rest = request;
  while (!rest.empty()) {
    int chunk = static_cast<int>(std::min<std::size_t>(rest.size(), 1 << 16));
    int sent = SSL_write(ssl.get(), rest.data(), chunk);
    if (sent <= 0) {
      break;  // the server may answer (413) and close before taking everything
    }
    rest.remove_prefix(static_cast<std::size_t>(sent));
  }
  // Our side is done (close_notify), as a plain client would shut down its writes; the
  // answer can still be read.
  SSL_shutdown(ssl.get());
  char buffer[8192];
  while (true) {
    int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
    if (n <= 0) {
      int code = SSL_get_error(ssl.get(), n);
      if (code != SSL_ERROR_ZERO_RETURN) {
        result.error = opensslReason("the connection ended without close_notify");
      }
      break;
    }
    result.answer.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  if (result.answer.starts_with("HTTP/1.") && result.answer.size() >= 12) {
    result.status = std::atoi(result.answer.substr(9, 3).c_str());
  }
  return result;
}

}  // namespace overmesh::testing
