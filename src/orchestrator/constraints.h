#pragma once

// Placement constraints, Docker's syntax: `node.id==ID`, `node.hostname!=NAME`,
// `node.role==manager|worker`, `node.labels.KEY==VALUE`, with == or !=. Pure.

#include <string>
#include <vector>

#include "api/types.h"
#include "common/error.h"

namespace overmesh::orchestrator {

struct Constraint {
  enum class Field { Id, Hostname, Role, Label };
  Field field = Field::Hostname;
  std::string label;  // the KEY of node.labels.KEY
  bool equal = true;  // == or !=
  std::string value;
};

// InvalidArgument naming the expression and what would be valid.
Result<Constraint> parseConstraint(const std::string& expression);
Result<std::vector<Constraint>> parseConstraints(const std::vector<std::string>& expressions);

bool matches(const api::Node& node, const std::vector<Constraint>& constraints);

}  // namespace overmesh::orchestrator
