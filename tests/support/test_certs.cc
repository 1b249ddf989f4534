#include "support/test_certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>
#include <stdexcept>

namespace overmesh::testing {
namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("test certificate: ") + what + " failed");
  }
}

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr newKey() {
  KeyPtr key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

std::string keyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string certPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  check(PEM_write_bio_X509(bio.get(), cert) == 1, "PEM_write_bio_X509");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

KeyPtr readKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  check(key != nullptr, "PEM_read_bio_PrivateKey");
  return key;
}

CertPtr readCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  check(cert != nullptr, "PEM_read_bio_X509");
  return cert;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(extension != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, extension, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(extension);
}

void addName(X509_NAME* name, const char* field, const std::string& value) {
  if (value.empty()) {
    return;
  }
  check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) == 1,
        "X509_NAME_add_entry_by_txt");
}

// A random positive 128-bit serial; returns it as lower-case hex.
std::string setRandomSerial(X509* cert) {
  unsigned char bytes[16];
  check(RAND_bytes(bytes, sizeof(bytes)) == 1, "RAND_bytes");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x10);  // positive, 16 bytes
  BIGNUM* number = BN_bin2bn(bytes, sizeof(bytes), nullptr);
  check(number != nullptr && BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert)) != nullptr,
        "serial");
  char* hex = BN_bn2hex(number);
  std::string serial(hex);
  OPENSSL_free(hex);
  BN_free(number);
  for (char& c : serial) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return serial;
}

}  // namespace

TestCa makeTestCa(const std::string& name) {
  KeyPtr key = newKey();
  CertPtr cert(X509_new(), &X509_free);
  check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  setRandomSerial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  addName(subject, "CN", name);
  check(X509_set_issuer_name(cert.get(), subject) == 1, "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");
  return TestCa{certPem(cert.get()), keyPem(key.get())};
}

TestCert makeTestCert(const TestCa& ca, const TestCertSpec& spec) {
  KeyPtr caKey = readKey(ca.keyPem);
  CertPtr caCert = readCert(ca.certPem);
  KeyPtr key = newKey();
  CertPtr cert(X509_new(), &X509_free);
  check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  std::string serial = setRandomSerial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.validity.count()));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  addName(subject, "CN", spec.nodeId);
  addName(subject, "OU", spec.role);
  addName(subject, "O", spec.clusterId);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get())) == 1,
        "X509_set_issuer_name");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE");
  if (!spec.keyUsage.empty()) {
    addExtension(cert.get(), caCert.get(), NID_key_usage, spec.keyUsage);
  }
  if (!spec.extendedKeyUsage.empty()) {
    addExtension(cert.get(), caCert.get(), NID_ext_key_usage, spec.extendedKeyUsage);
  }
  addExtension(cert.get(), caCert.get(), NID_authority_key_identifier, "keyid");
  std::string alternatives;
  for (const std::string& dns : spec.dnsNames) {
    alternatives += (alternatives.empty() ? "DNS:" : ",DNS:") + dns;
  }
  for (const std::string& ip : spec.ipAddresses) {
    alternatives += (alternatives.empty() ? "IP:" : ",IP:") + ip;
  }
  if (!alternatives.empty()) {
    addExtension(cert.get(), caCert.get(), NID_subject_alt_name, alternatives);
  }
  check(X509_sign(cert.get(), caKey.get(), EVP_sha256()) > 0, "X509_sign");
  return TestCert{certPem(cert.get()), keyPem(key.get()), serial};
}

}  // namespace overmesh::testing
