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

// True when the node satisfies the constraint. A node without the label fails
// `node.labels.KEY==V` and satisfies `node.labels.KEY!=V`, as in Docker.
bool matches(const api::Node& node, const Constraint& constraint);
// True when the node satisfies every constraint (an empty list matches every node).
bool matches(const api::Node& node, const std::vector<Constraint>& constraints);

// The constraint in canonical form, e.g. "node.labels.zone==a", for messages.
std::string toString(const Constraint& constraint);

}  // namespace overmesh::orchestrator
