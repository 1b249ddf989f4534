// singleCaCertificate (pki.h): what a joining node may pin from an unverified answer.

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "security/openssl_handles.h"
#include "security/pki.h"

namespace overmesh::security {

Result<std::string> singleCaCertificate(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return errorf(ErrorKind::InvalidArgument, "the CA certificate is {} bytes; at most {} are read",
                  pem.size(), kMaxPemBytes);
  }
  auto bio = ossl::readOnlyBio(pem, "CA certificate");
  if (!bio) {
    return std::unexpected(bio.error());
  }
  ossl::X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return errorf(ErrorKind::InvalidArgument, "the CA answer holds no PEM certificate");
  }
  // Whatever follows the first certificate must be blank: a second certificate (or any
  // other PEM block) would be trusted without being pinned.
  std::string rest = ossl::bioContent(bio->get());
  if (!std::all_of(rest.begin(), rest.end(),
                   [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; })) {
    return errorf(ErrorKind::InvalidArgument,
                  "the CA answer holds more than one certificate (or other text after it); "
                  "a cluster has exactly one CA");
  }
  if (X509_check_ca(cert.get()) != 1) {
    ERR_clear_error();
    return errorf(ErrorKind::InvalidArgument, "the certificate in the CA answer is not a CA");
  }
  return ossl::certificatePem(cert.get());
}

}  // namespace overmesh::security
