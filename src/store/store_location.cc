#include "store/store_location.h"

// Placeholder (issue 13 lane "etcd" writes the real parser).

namespace overmesh::store {

std::string StoreLocation::url() const { return "sqlite"; }

Result<StoreLocation> parseStoreUrl(std::string_view text) {
  if (text.empty() || text == "sqlite") {
    return StoreLocation{};
  }
  return errorf(ErrorKind::InvalidArgument, "--store {}: not built yet", text.substr(0, 200));
}

Status checkStoreTls(const StoreLocation&) { return {}; }

}  // namespace overmesh::store
