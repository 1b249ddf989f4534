#include "security/pki.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "security/openssl_handles.h"

namespace overmesh::security {
namespace {

using namespace ossl;

constexpr std::chrono::minutes kClockSkewAllowance{1};
// RFC 5280's upper bound for a CommonName; node and cluster IDs are 25 characters.
constexpr std::size_t kMaxIdentityField = 64;

std::string formatUtc(TimePoint when) {
  time_t seconds = std::chrono::system_clock::to_time_t(when);
  struct tm parts {};
  if (gmtime_r(&seconds, &parts) == nullptr) {
    return fmt::format("{} s after the epoch", static_cast<long long>(seconds));
  }
  std::array<char, 32> text{};
  std::size_t length = strftime(text.data(), text.size(), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return std::string(text.data(), length);
}

// An identity field goes into a subject and a DNS SAN: keep it to characters that cannot
// change the meaning of either (no commas, '=', '/', spaces or control bytes).
Status checkIdentityField(std::string_view value, std::string_view field) {
  if (value.empty()) {
    return errorf(ErrorKind::InvalidArgument, "node identity: {} is empty", field);
  }
  if (value.size() > kMaxIdentityField) {
    return errorf(ErrorKind::InvalidArgument, "node identity: {} is {} characters; at most {}",
                  field, value.size(), kMaxIdentityField);
  }
  bool allowed = std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
  if (!allowed) {
    return errorf(ErrorKind::InvalidArgument,
                  "node identity: {} {:?} may hold only letters, digits, '-', '.' and '_'", field,
                  value);
  }
  return {};
}

Status checkIdentity(const NodeIdentity& who) {
  if (auto s = checkIdentityField(who.nodeId, "node ID"); !s) {
    return s;
  }
  if (auto s = checkIdentityField(who.clusterId, "cluster ID"); !s) {
    return s;
  }
  if (who.role != "manager" && who.role != "worker") {
    return errorf(ErrorKind::InvalidArgument,
                  "node identity: role {:?} is not valid; expected manager or worker", who.role);
  }
  return {};
}

time_t toTimeT(TimePoint when) { return std::chrono::system_clock::to_time_t(when); }

Result<TimePoint> fromAsn1Time(const ASN1_TIME* time, std::string_view what) {
  struct tm parts {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return errorf(ErrorKind::InvalidArgument, "certificate's {} time is not readable: {}", what,
                  opensslErrorText());
  }
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

// A random positive 128-bit serial number (RFC 5280 allows up to 20 octets).
Status setRandomSerial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return errorf(ErrorKind::Internal, "random serial number: {}", opensslErrorText());
  }
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, 16 octets
  Bignum number(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!number) {
    return errorf(ErrorKind::Internal, "random serial number: {}", opensslErrorText());
  }
  Asn1Integer serial(BN_to_ASN1_INTEGER(number.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1) {
    return errorf(ErrorKind::Internal, "setting the serial number: {}", opensslErrorText());
  }
  return {};
}

Status addNameEntry(X509_NAME* name, const char* field, std::string_view value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return errorf(ErrorKind::InvalidArgument, "subject {}={:?}: {}", field, value,
                  opensslErrorText());
  }
  return {};
}

// Adds one extension written in OpenSSL's configuration syntax ("critical,CA:FALSE").
// `ctx` names the issuer and subject (the key identifiers are derived from them).
Status addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509Ext extension(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()));
  if (!extension || X509_add_ext(cert, extension.get(), -1) != 1) {
    return errorf(ErrorKind::Internal, "certificate extension {} {:?}: {}", OBJ_nid2sn(nid), value,
                  opensslErrorText());
  }
  return {};
}

Status setValidity(X509* cert, TimePoint notBefore, TimePoint notAfter) {
  if (ASN1_TIME_set(X509_getm_notBefore(cert), toTimeT(notBefore)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), toTimeT(notAfter)) == nullptr) {
    return errorf(ErrorKind::Internal, "setting the validity period: {}", opensslErrorText());
  }
  return {};
}

// EdDSA signs the message itself and takes no digest; everything else uses SHA-256.
const EVP_MD* signingDigest(EVP_PKEY* key) {
  return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
}

// The key types a node may use: ECDSA on P-256 (what generateKey makes) or Ed25519.
Status checkNodeKeyType(EVP_PKEY* key) {
  int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_ED25519) {
    return {};
  }
  if (type == EVP_PKEY_EC) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &length) == 1) {
      std::string_view name(group.data(), length);
      if (name == "prime256v1" || name == "P-256") {
        return {};
      }
      return errorf(ErrorKind::InvalidArgument,
                    "the CSR's key is on curve {}; expected P-256 (prime256v1) or Ed25519", name);
    }
    ERR_clear_error();
    return errorf(ErrorKind::InvalidArgument,
                  "the CSR's EC key has no named curve; expected P-256 (prime256v1) or Ed25519");
  }
  const char* name = OBJ_nid2sn(type);
  return errorf(ErrorKind::InvalidArgument,
                "the CSR's key is of type {}; expected EC P-256 (prime256v1) or Ed25519",
                name != nullptr ? name : "unknown");
}

Result<std::string> nameEntry(X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) {
    return std::string();
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    return errorf(ErrorKind::InvalidArgument, "certificate subject {} is not readable: {}",
                  OBJ_nid2sn(nid), opensslErrorText());
  }
  std::string value(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return value;
}

Result<std::string> fingerprintOf(X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest.data(), &length) != 1) {
    return errorf(ErrorKind::Internal, "certificate fingerprint: {}", opensslErrorText());
  }
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += fmt::format("{:02x}", digest[i]);
  }
  return hex;
}

}  // namespace

Result<CertificateInfo> ossl::describeCertificate(X509* cert) {
  CertificateInfo info;
  info.isCa = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
  if (!info.isCa) {
    X509_NAME* subject = X509_get_subject_name(cert);
    auto cn = nameEntry(subject, NID_commonName);
    auto ou = nameEntry(subject, NID_organizationalUnitName);
    auto o = nameEntry(subject, NID_organizationName);
    if (!cn || !ou || !o) {
      return std::unexpected(!cn ? cn.error() : !ou ? ou.error() : o.error());
    }
    info.identity = NodeIdentity{*cn, *ou, *o};
  }
  Bignum serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  OsslString serialHex(serial ? BN_bn2hex(serial.get()) : nullptr);
  if (!serialHex) {
    return errorf(ErrorKind::InvalidArgument, "certificate serial number: {}", opensslErrorText());
  }
  info.serial = serialHex.get();
  std::transform(info.serial.begin(), info.serial.end(), info.serial.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  auto fingerprint = fingerprintOf(cert);
  auto notBefore = fromAsn1Time(X509_get0_notBefore(cert), "notBefore");
  auto notAfter = fromAsn1Time(X509_get0_notAfter(cert), "notAfter");
  if (!fingerprint || !notBefore || !notAfter) {
    return std::unexpected(!fingerprint ? fingerprint.error()
                           : !notBefore ? notBefore.error()
                                        : notAfter.error());
  }
  info.fingerprint = std::move(*fingerprint);
  info.notBefore = *notBefore;
  info.notAfter = *notAfter;
  return info;
}

namespace {

Result<Pkey> newP256Key() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    return errorf(ErrorKind::Internal, "generating an EC P-256 key: {}", opensslErrorText());
  }
  return key;
}

}  // namespace

Result<KeyPair> generateKey() {
  auto key = newP256Key();
  if (!key) {
    return std::unexpected(key.error());
  }
  auto pem = privateKeyPem(key->get());
  if (!pem) {
    return std::unexpected(pem.error());
  }
  return KeyPair{std::move(*pem)};
}

Result<std::string> makeCsr(std::string_view privateKeyPem, std::string_view commonName) {
  auto key = readPrivateKey(privateKeyPem, "private key");
  if (!key) {
    return std::unexpected(key.error());
  }
  if (commonName.empty() || commonName.size() > kMaxIdentityField) {
    return errorf(ErrorKind::InvalidArgument, "CSR common name is {} characters; expected 1 to {}",
                  commonName.size(), kMaxIdentityField);
  }
  X509Req csr(X509_REQ_new());
  if (!csr || X509_REQ_set_version(csr.get(), X509_REQ_VERSION_1) != 1) {
    return errorf(ErrorKind::Internal, "creating a CSR: {}", opensslErrorText());
  }
  if (auto s = addNameEntry(X509_REQ_get_subject_name(csr.get()), "CN", commonName); !s) {
    return std::unexpected(s.error());
  }
  if (X509_REQ_set_pubkey(csr.get(), key->get()) != 1 ||
      X509_REQ_sign(csr.get(), key->get(), signingDigest(key->get())) <= 0) {
    return errorf(ErrorKind::Internal, "signing the CSR: {}", opensslErrorText());
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), csr.get()) != 1) {
    return errorf(ErrorKind::Internal, "encoding the CSR as PEM: {}", opensslErrorText());
  }
  return bioContent(bio.get());
}

Result<CaMaterial> createCa(std::string_view clusterId, TimePoint now) {
  if (auto s = checkIdentityField(clusterId, "cluster ID"); !s) {
    return std::unexpected(s.error());
  }
  auto key = newP256Key();
  if (!key) {
    return std::unexpected(key.error());
  }
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return errorf(ErrorKind::Internal, "creating the CA certificate: {}", opensslErrorText());
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (Status s : {addNameEntry(subject, "O", clusterId),
                   addNameEntry(subject, "CN", fmt::format("overmesh-ca-{}", clusterId))}) {
    if (!s) {
      return std::unexpected(s.error());
    }
  }
  if (X509_set_issuer_name(cert.get(), subject) != 1 ||
      X509_set_pubkey(cert.get(), key->get()) != 1) {
    return errorf(ErrorKind::Internal, "creating the CA certificate: {}", opensslErrorText());
  }
  if (auto s = setRandomSerial(cert.get()); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = setValidity(cert.get(), now - kClockSkewAllowance, now + kCaValidity); !s) {
    return std::unexpected(s.error());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  // The subject key identifier first: the authority key identifier is copied from it.
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto s = addExtension(cert.get(), &ctx, nid, value); !s) {
      return std::unexpected(s.error());
    }
  }
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) <= 0) {
    return errorf(ErrorKind::Internal, "self-signing the CA certificate: {}", opensslErrorText());
  }
  auto certText = certificatePem(cert.get());
  auto keyText = privateKeyPem(key->get());
  if (!certText || !keyText) {
    return std::unexpected(!certText ? certText.error() : keyText.error());
  }
  return CaMaterial{std::move(*certText), std::move(*keyText)};
}

Result<std::string> signNodeCertificate(const CaMaterial& ca, std::string_view csrPem,
                                        const NodeIdentity& who, std::chrono::seconds validity,
                                        TimePoint now) {
  if (auto s = checkIdentity(who); !s) {
    return std::unexpected(s.error());
  }
  if (validity <= std::chrono::seconds::zero() || validity > kMaxCertExpiry) {
    return errorf(ErrorKind::InvalidArgument,
                  "certificate validity of {} s is not valid; expected 1 s to {} s",
                  validity.count(), std::chrono::seconds(kMaxCertExpiry).count());
  }
  auto caCert = readCertificate(ca.certPem, "CA certificate");
  if (!caCert) {
    return std::unexpected(caCert.error());
  }
  auto caKey = readPrivateKey(ca.keyPem, "CA key");
  if (!caKey) {
    return std::unexpected(caKey.error());
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(caCert->get()), caKey->get()) != 1) {
    ERR_clear_error();
    return errorf(ErrorKind::InvalidArgument, "the CA key does not match the CA certificate");
  }

  auto csr = readCsr(csrPem, "CSR");
  if (!csr) {
    return std::unexpected(csr.error());
  }
  EVP_PKEY* nodeKey = X509_REQ_get0_pubkey(csr->get());
  if (nodeKey == nullptr) {
    return errorf(ErrorKind::InvalidArgument, "the CSR's public key is not readable: {}",
                  opensslErrorText());
  }
  if (auto s = checkNodeKeyType(nodeKey); !s) {
    return std::unexpected(s.error());
  }
  // Proof that the requester holds the private key of the key it asks us to certify.
  if (X509_REQ_verify(csr->get(), nodeKey) != 1) {
    return errorf(ErrorKind::InvalidArgument, "the CSR's signature does not verify: {}",
                  opensslErrorText("bad signature"));
  }

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return errorf(ErrorKind::Internal, "creating a node certificate: {}", opensslErrorText());
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (Status s : {addNameEntry(subject, "O", who.clusterId), addNameEntry(subject, "OU", who.role),
                   addNameEntry(subject, "CN", who.nodeId)}) {
    if (!s) {
      return std::unexpected(s.error());
    }
  }
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert->get())) != 1 ||
      X509_set_pubkey(cert.get(), nodeKey) != 1) {
    return errorf(ErrorKind::Internal, "creating a node certificate: {}", opensslErrorText());
  }
  if (auto s = setRandomSerial(cert.get()); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = setValidity(cert.get(), now - kClockSkewAllowance, now + validity); !s) {
    return std::unexpected(s.error());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, caCert->get(), cert.get(), nullptr, nullptr, 0);
  std::string names = fmt::format("DNS:{},DNS:overmesh-{}", who.nodeId, who.role);
  for (auto [nid, value] :
       {std::pair<int, std::string>{NID_basic_constraints, "critical,CA:FALSE"},
        std::pair<int, std::string>{NID_key_usage, "critical,digitalSignature"},
        std::pair<int, std::string>{NID_ext_key_usage, "serverAuth,clientAuth"},
        std::pair<int, std::string>{NID_subject_alt_name, names},
        std::pair<int, std::string>{NID_subject_key_identifier, "hash"},
        std::pair<int, std::string>{NID_authority_key_identifier, "keyid:always"}}) {
    if (auto s = addExtension(cert.get(), &ctx, nid, value); !s) {
      return std::unexpected(s.error());
    }
  }
  if (X509_sign(cert.get(), caKey->get(), signingDigest(caKey->get())) <= 0) {
    return errorf(ErrorKind::Internal, "signing the node certificate: {}", opensslErrorText());
  }
  return certificatePem(cert.get());
}

Result<CertificateInfo> inspectCertificate(std::string_view certPem) {
  auto cert = readCertificate(certPem, "certificate");
  if (!cert) {
    return std::unexpected(cert.error());
  }
  return describeCertificate(cert->get());
}

Result<std::string> certificateFingerprint(std::string_view certPem) {
  auto cert = readCertificate(certPem, "certificate");
  if (!cert) {
    return std::unexpected(cert.error());
  }
  return fingerprintOf(cert->get());
}

Result<CertificateInfo> verifyNodeCertificate(std::string_view certPem, std::string_view caPem,
                                              TimePoint now) {
  auto cert = readCertificate(certPem, "certificate");
  if (!cert) {
    return std::unexpected(Error{ErrorKind::Unauthenticated, cert.error().message});
  }
  auto ca = readCertificate(caPem, "CA certificate");
  if (!ca) {
    return std::unexpected(ca.error());
  }
  auto info = describeCertificate(cert->get());
  if (!info) {
    return std::unexpected(Error{ErrorKind::Unauthenticated, info.error().message});
  }
  X509Store store(X509_STORE_new());
  X509StoreCtx ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca->get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr) != 1) {
    return errorf(ErrorKind::Internal, "certificate verification setup: {}", opensslErrorText());
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_time(param, toTimeT(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    int code = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    ERR_clear_error();
    if (depth > 0 &&
        (code == X509_V_ERR_CERT_HAS_EXPIRED || code == X509_V_ERR_CERT_NOT_YET_VALID)) {
      // The CA itself is outside its validity at `now` (a clock far off, or a CA past its
      // 20 years): say so rather than blame the node's certificate.
      return errorf(ErrorKind::Unauthenticated,
                    "the cluster CA's certificate is not valid at {}: {}", formatUtc(now),
                    X509_verify_cert_error_string(code));
    }
    switch (code) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return errorf(ErrorKind::Unauthenticated, "certificate of {} expired on {}",
                      info->identity.nodeId, formatUtc(info->notAfter));
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return errorf(ErrorKind::Unauthenticated, "certificate of {} is not valid before {}",
                      info->identity.nodeId, formatUtc(info->notBefore));
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return errorf(ErrorKind::Unauthenticated, "certificate is not signed by this cluster's CA");
      default:
        return errorf(ErrorKind::Unauthenticated, "certificate is not valid: {}",
                      X509_verify_cert_error_string(code));
    }
  }
  if (info->isCa || info->identity.nodeId.empty() ||
      (info->identity.role != "manager" && info->identity.role != "worker")) {
    return errorf(ErrorKind::Unauthenticated,
                  "certificate is not a node certificate (it needs CN=<node ID>, "
                  "OU=manager|worker and no CA flag)");
  }
  // A node certificate serves (the node port, a manager's API) and is a client (to the
  // managers, to other nodes): it must say both. An extended key usage is required, not
  // just honoured when present, so that a certificate made for something else (no EKU, a
  // code-signing or server-only one) signed by the same CA cannot act as a node. The
  // purpose checks also look at the key usage (digitalSignature).
  const uint32_t flags = X509_get_extension_flags(cert->get());
  const uint32_t usages = X509_get_extended_key_usage(cert->get());
  const bool hasBothUsages = (flags & EXFLAG_XKUSAGE) != 0 && (usages & XKU_SSL_SERVER) != 0 &&
                             (usages & XKU_SSL_CLIENT) != 0;
  if (!hasBothUsages || X509_check_purpose(cert->get(), X509_PURPOSE_SSL_CLIENT, 0) != 1 ||
      X509_check_purpose(cert->get(), X509_PURPOSE_SSL_SERVER, 0) != 1) {
    ERR_clear_error();
    return errorf(ErrorKind::Unauthenticated,
                  "certificate of {} is not a node certificate: it needs the extended key usages "
                  "serverAuth and clientAuth and the key usage digitalSignature",
                  info->identity.nodeId);
  }
  return info;
}

Result<bool> keyMatchesCertificate(std::string_view privateKeyPem, std::string_view certPem) {
  auto key = readPrivateKey(privateKeyPem, "private key");
  if (!key) {
    return std::unexpected(key.error());
  }
  auto cert = readCertificate(certPem, "certificate");
  if (!cert) {
    return std::unexpected(cert.error());
  }
  EVP_PKEY* certKey = X509_get0_pubkey(cert->get());
  bool matches = certKey != nullptr && EVP_PKEY_eq(certKey, key->get()) == 1;
  ERR_clear_error();
  return matches;
}

}  // namespace overmesh::security
