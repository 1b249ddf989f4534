#include "security/openssl_handles.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>

#include "security/pki.h"

namespace overmesh::security::ossl {
namespace {

// A password callback that gives none: an encrypted key fails to load instead of
// OpenSSL asking for a password on the daemon's terminal.
int noPassword(char*, int, int, void*) { return -1; }

}  // namespace

std::string opensslErrorText(std::string_view fallback) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return std::string(fallback);
  }
  const char* reason = ERR_reason_error_string(code);
  if (reason != nullptr) {
    return reason;
  }
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

Result<Bio> readOnlyBio(std::string_view text, std::string_view what) {
  if (text.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{} is empty", what);
  }
  if (text.size() > kMaxPemBytes) {
    return errorf(ErrorKind::InvalidArgument, "{} is {} bytes; at most {} are accepted", what,
                  text.size(), kMaxPemBytes);
  }
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) {
    return errorf(ErrorKind::Internal, "{}: {}", what, opensslErrorText("out of memory"));
  }
  return bio;
}

std::string bioContent(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  if (size <= 0 || data == nullptr) {
    return {};
  }
  return std::string(data, static_cast<std::size_t>(size));
}

Result<X509Ptr> readCertificate(std::string_view text, std::string_view what) {
  auto bio = readOnlyBio(text, what);
  if (!bio) {
    return std::unexpected(bio.error());
  }
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, noPassword, nullptr));
  if (!cert) {
    return errorf(ErrorKind::InvalidArgument, "{} is not a PEM certificate: {}", what,
                  opensslErrorText());
  }
  return cert;
}

Result<Pkey> readPrivateKey(std::string_view text, std::string_view what) {
  auto bio = readOnlyBio(text, what);
  if (!bio) {
    return std::unexpected(bio.error());
  }
  Pkey key(PEM_read_bio_PrivateKey(bio->get(), nullptr, noPassword, nullptr));
  if (!key) {
    return errorf(ErrorKind::InvalidArgument, "{} is not an unencrypted PEM private key: {}", what,
                  opensslErrorText());
  }
  return key;
}

Result<X509Req> readCsr(std::string_view text, std::string_view what) {
  auto bio = readOnlyBio(text, what);
  if (!bio) {
    return std::unexpected(bio.error());
  }
  X509Req csr(PEM_read_bio_X509_REQ(bio->get(), nullptr, noPassword, nullptr));
  if (!csr) {
    return errorf(ErrorKind::InvalidArgument, "{} is not a PEM certificate signing request: {}",
                  what, opensslErrorText());
  }
  return csr;
}

Result<std::string> certificatePem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return errorf(ErrorKind::Internal, "encoding a certificate as PEM: {}", opensslErrorText());
  }
  return bioContent(bio.get());
}

Result<std::string> privateKeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  // PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: the file's mode protects it.
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return errorf(ErrorKind::Internal, "encoding a private key as PEM: {}", opensslErrorText());
  }
  return bioContent(bio.get());
}

}  // namespace overmesh::security::ossl
