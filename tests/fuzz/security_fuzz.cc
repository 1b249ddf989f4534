// libFuzzer target for the security library's parsers (src/security/pki.h, join_token.h):
// every byte they read can come from the network (a CSR in a join or renewal request, a
// token pasted by a user, a certificate a peer presents). They must never crash, leak or
// throw, and must keep their promises on what they accept.
//
// The first input byte picks what the rest is fed to; for a certificate or a CSR the rest
// is taken as DER and wrapped in PEM, so that mutations reach OpenSSL's ASN.1 parsers
// instead of dying in base64:
//   0: parseJoinToken(rest)
//   1: inspectCertificate / certificateFingerprint / verifyNodeCertificate of PEM(rest)
//   2: signNodeCertificate of the CSR PEM(rest)
//   3: every entry point with `rest` as raw text
//
// Built like request_decoders_fuzz.cc: a real libFuzzer binary with clang, the GCC
// stand-in driver (fuzz_driver.cc) as a unit test otherwise.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "security/join_token.h"
#include "security/pki.h"

namespace {

using namespace overmesh::security;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

TimePoint fuzzNow() { return std::chrono::system_clock::from_time_t(1795651200); }

const CaMaterial& fuzzCa() {
  static const CaMaterial ca = [] {
    auto made = createCa("fuzzcluster", fuzzNow());
    check(made.has_value());
    return *made;
  }();
  return ca;
}

std::string pem(std::string_view label, std::string_view der) {
  std::string base64 = overmesh::base64Encode(der);
  std::string text = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t at = 0; at < base64.size(); at += 64) {
    text += base64.substr(at, 64) + "\n";
  }
  return text + "-----END " + std::string(label) + "-----\n";
}

void fuzzToken(std::string_view text) {
  auto token = parseJoinToken(text);
  if (token) {
    check(token->caFingerprint.size() == 64 && token->secret.size() == 43);
    check(parseJoinToken(formatJoinToken(*token)).has_value());
  } else {
    check(token.error().message.starts_with("join token is not valid: "));
  }
}

void fuzzCertificate(std::string_view text) {
  auto info = inspectCertificate(text);
  auto fingerprint = certificateFingerprint(text);
  // inspect reads more (times, names) than the fingerprint needs, so it may refuse a
  // certificate whose fingerprint is computable, never the other way round.
  if (info) {
    check(fingerprint && info->fingerprint == *fingerprint && fingerprint->size() == 64);
  }
  auto verified = verifyNodeCertificate(text, fuzzCa().certPem, fuzzNow());
  // Nothing a fuzzer makes is signed by our CA's key.
  check(!verified.has_value());
}

void fuzzCsr(std::string_view text) {
  auto cert = signNodeCertificate(fuzzCa(), text, NodeIdentity{"node1", "worker", "fuzzcluster"},
                                  std::chrono::hours(1), fuzzNow());
  if (cert) {
    // Whatever the CSR said, the certificate says what the CA decided.
    auto info = verifyNodeCertificate(*cert, fuzzCa().certPem, fuzzNow());
    check(info.has_value() && info->identity.nodeId == "node1" && info->identity.role == "worker");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      fuzzToken(rest);
      break;
    case 1:
      fuzzCertificate(pem("CERTIFICATE", rest));
      break;
    case 2:
      fuzzCsr(pem("CERTIFICATE REQUEST", rest));
      break;
    default:
      fuzzToken(rest);
      fuzzCertificate(rest);
      fuzzCsr(rest);
      (void)keyMatchesCertificate(rest, fuzzCa().certPem);
      break;
  }
  return 0;
}
