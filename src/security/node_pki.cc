// Placeholder (issue 12 contracts): the pki lane replaces every body.
#include "security/node_pki.h"

namespace overmesh::security {
namespace {
Error notYet() { return Error{ErrorKind::Internal, "node pki: not implemented yet"}; }
}  // namespace

Result<std::unique_ptr<NodePki>> NodePki::load(const std::string&) { return std::unexpected(notYet()); }
Result<std::unique_ptr<NodePki>> NodePki::create(const std::string&, const std::string&,
                                                 const std::string&, const std::string&) {
  return std::unexpected(notYet());
}
Status NodePki::remove(const std::string&) { return std::unexpected(notYet()); }
std::shared_ptr<const NodeCredentials> NodePki::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}
Status NodePki::replace(const std::string&, const std::string&) { return std::unexpected(notYet()); }
Status NodePki::saveCaKey(const std::string&) { return std::unexpected(notYet()); }
Result<std::string> NodePki::caKey() const { return std::unexpected(notYet()); }
Status NodePki::saveToken(std::string_view, const std::string&) { return std::unexpected(notYet()); }
Result<std::string> NodePki::token(std::string_view) const { return std::unexpected(notYet()); }

}  // namespace overmesh::security
