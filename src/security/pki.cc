// Placeholder (issue 12 contracts): the pki lane replaces every body.
#include "security/pki.h"

namespace overmesh::security {
namespace {
Error notYet() { return Error{ErrorKind::Internal, "pki: not implemented yet"}; }
}  // namespace

Result<KeyPair> generateKey() { return std::unexpected(notYet()); }
Result<std::string> makeCsr(std::string_view, std::string_view) { return std::unexpected(notYet()); }
Result<CaMaterial> createCa(std::string_view, TimePoint) { return std::unexpected(notYet()); }
Result<std::string> signNodeCertificate(const CaMaterial&, std::string_view, const NodeIdentity&,
                                        std::chrono::seconds, TimePoint) {
  return std::unexpected(notYet());
}
Result<CertificateInfo> inspectCertificate(std::string_view) { return std::unexpected(notYet()); }
Result<std::string> certificateFingerprint(std::string_view) { return std::unexpected(notYet()); }
Result<CertificateInfo> verifyNodeCertificate(std::string_view, std::string_view, TimePoint) {
  return std::unexpected(notYet());
}
Result<bool> keyMatchesCertificate(std::string_view, std::string_view) {
  return std::unexpected(notYet());
}

}  // namespace overmesh::security
