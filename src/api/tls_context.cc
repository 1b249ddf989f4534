#include "api/tls_context.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cctype>
#include <ctime>
#include <vector>

#include <fmt/format.h>

namespace overmesh::api {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

std::unique_ptr<BIO, BioDeleter> memoryBio(const std::string& text) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Every certificate of a PEM text, in order. Empty when none parses.
std::vector<X509Ptr> readCertificates(const std::string& pem) {
  std::vector<X509Ptr> certificates;
  auto bio = memoryBio(pem);
  if (bio == nullptr) {
    return certificates;
  }
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(cert);
  }
  // Reading stops with "no start line" at the end of the text: not an error.
  ERR_clear_error();
  return certificates;
}

std::string subjectEntry(X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) {
    return "";
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    return "";
  }
  std::string text(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

}  // namespace

std::string takeOpensslErrors(const std::string& fallback) {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    std::string part = reason != nullptr ? reason : fmt::format("error {:#x}", code);
    if (text.find(part) == std::string::npos) {
      text += text.empty() ? part : "; " + part;
    }
  }
  return text.empty() ? fallback : text;
}

Result<SslCtxPtr> makeServerContext(const TlsServerConfig& config) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) {
    return errorf(ErrorKind::Internal, "SSL_CTX_new: {}", takeOpensslErrors("failed"));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  std::vector<X509Ptr> own = readCertificates(config.certPem);
  if (own.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS server certificate: certPem holds no PEM certificate");
  }
  if (SSL_CTX_use_certificate(ctx.get(), own.front().get()) != 1) {
    return errorf(ErrorKind::InvalidArgument, "TLS server certificate: {}",
                  takeOpensslErrors("refused"));
  }
  for (std::size_t i = 1; i < own.size(); ++i) {
    // add1 takes its own reference.
    if (SSL_CTX_add1_chain_cert(ctx.get(), own[i].get()) != 1) {
      return errorf(ErrorKind::InvalidArgument, "TLS server certificate chain: {}",
                    takeOpensslErrors("refused"));
    }
  }
  auto keyBio = memoryBio(config.keyPem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (key == nullptr) {
    ERR_clear_error();
    return errorf(ErrorKind::InvalidArgument, "TLS server key: keyPem holds no PEM private key");
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return errorf(ErrorKind::InvalidArgument,
                  "TLS server key: it is not the key of the server certificate ({})",
                  takeOpensslErrors("mismatch"));
  }

  std::vector<X509Ptr> authorities = readCertificates(config.caPem);
  if (authorities.empty()) {
    return errorf(ErrorKind::InvalidArgument, "TLS server CA: caPem holds no PEM certificate");
  }
  // A store of our own: the system's trust anchors must never vouch for a peer.
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) {
    return errorf(ErrorKind::Internal, "X509_STORE_new: {}", takeOpensslErrors("failed"));
  }
  SSL_CTX_set_cert_store(ctx.get(), store);  // the context owns it from here
  for (const X509Ptr& authority : authorities) {
    if (X509_STORE_add_cert(store, authority.get()) != 1) {
      return errorf(ErrorKind::InvalidArgument, "TLS server CA: {}",
                    takeOpensslErrors("refused"));
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // Our chains are CA -> node: nothing longer is ever legitimate.
  SSL_CTX_set_verify_depth(ctx.get(), 2);
  return ctx;
}

PeerIdentity peerIdentityOf(X509* certificate, const std::string& address) {
  PeerIdentity identity;
  identity.address = address;
  if (certificate == nullptr) {
    return identity;
  }
  X509_NAME* subject = X509_get_subject_name(certificate);
  identity.nodeId = subjectEntry(subject, NID_commonName);
  identity.role = subjectEntry(subject, NID_organizationalUnitName);
  identity.clusterId = subjectEntry(subject, NID_organizationName);
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      identity.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  for (char& c : identity.serial) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::tm notAfter{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &notAfter) == 1) {
    identity.notAfter = std::chrono::system_clock::from_time_t(timegm(&notAfter));
  }
  return identity;
}

}  // namespace overmesh::api
