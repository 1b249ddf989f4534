#include "cli/node_role.h"

#include <fmt/format.h>

namespace overmesh::cli {

std::string roleChangeMessage(std::string_view reference, bool promote, bool changed) {
  if (!changed) {
    return fmt::format("Node {} is already a {}.", reference, promote ? "manager" : "worker");
  }
  if (promote) {
    return fmt::format("Node {} promoted to a manager in the swarm.", reference);
  }
  return fmt::format("Manager {} demoted in the swarm.", reference);
}

}  // namespace overmesh::cli
