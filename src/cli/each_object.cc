#include "cli/each_object.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

namespace overmesh::cli {

Status inspectEach(CliContext& context, const std::vector<std::string>& references,
                   const ObjectPath& pathOf) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  nlohmann::json found = nlohmann::json::array();
  std::vector<std::string> missing;
  for (const auto& reference : references) {
    auto object = client->get(pathOf(reference));
    if (!object) {
      if (object.error().kind != ErrorKind::NotFound) {
        return std::unexpected(object.error());
      }
      missing.push_back(object.error().message);
      continue;
    }
    found.push_back(*object);
  }
  if (!found.empty()) {
    printJson(*context.out, found);
  }
  if (!missing.empty()) {
    return errorf(ErrorKind::NotFound, "{}", fmt::join(missing, "; "));
  }
  return {};
}

Status removeEach(CliContext& context, const std::vector<std::string>& references,
                  const ObjectPath& pathOf) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  std::vector<std::string> failures;
  for (const auto& reference : references) {
    auto removed = client->del(pathOf(reference));
    if (!removed) {
      failures.push_back(removed.error().message);
      continue;
    }
    *context.out << reference << '\n';
  }
  if (!failures.empty()) {
    return errorf(ErrorKind::FailedPrecondition, "{}", fmt::join(failures, "\n"));
  }
  return {};
}

}  // namespace overmesh::cli
