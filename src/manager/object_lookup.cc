#include "manager/object_lookup.h"

#include <fmt/format.h>

#include "common/quote.h"

namespace overmesh::manager {

Result<std::size_t> findByReference(std::string_view kind, const std::vector<NamedObject>& objects,
                                    const std::string& reference) {
  if (reference.empty()) {
    return errorf(ErrorKind::InvalidArgument, "{} name or ID is required", kind);
  }
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].id == reference) {
      return i;
    }
  }
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].name == reference) {
      return i;
    }
  }
  std::vector<std::size_t> matches;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].id.starts_with(reference)) {
      matches.push_back(i);
    }
  }
  if (matches.size() == 1) {
    return matches.front();
  }
  if (matches.size() > 1) {
    std::vector<std::string> names;
    for (std::size_t i : matches) {
      names.push_back(fmt::format("{} ({})", objects[i].name, objects[i].id));
    }
    return errorf(ErrorKind::InvalidArgument,
                  "{} ID prefix {} is ambiguous: it matches {}; give more characters", kind,
                  quote(reference), fmt::join(names, ", "));
  }
  // printable, not quoted: the name reads as it was typed ("network web not found").
  return errorf(ErrorKind::NotFound, "{} {} not found", kind, printable(reference, kQuotedMax));
}

}  // namespace overmesh::manager
