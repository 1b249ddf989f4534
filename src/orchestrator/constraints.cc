#include "orchestrator/constraints.h"

#include <fmt/format.h>

#include <string_view>

namespace overmesh::orchestrator {

namespace {

constexpr std::string_view kValidForms =
    "valid forms: node.id==ID, node.hostname==NAME, node.role==manager|worker, "
    "node.labels.KEY==VALUE, each with == or !=";

std::string_view trimBlanks(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace

Result<Constraint> parseConstraint(const std::string& expression) {
  // "==" is searched first so that "a!=b" is not read as "a!" "=" "b".
  std::size_t operatorAt = expression.find("==");
  bool equal = true;
  const std::size_t notEqualAt = expression.find("!=");
  if (notEqualAt != std::string::npos &&
      (operatorAt == std::string::npos || notEqualAt < operatorAt)) {
    operatorAt = notEqualAt;
    equal = false;
  }
  if (operatorAt == std::string::npos) {
    return errorf(ErrorKind::InvalidArgument, "constraint \"{}\": no == or != operator ({})",
                  expression, kValidForms);
  }
  const std::string_view whole(expression);
  const std::string_view key = trimBlanks(whole.substr(0, operatorAt));
  const std::string_view value = trimBlanks(whole.substr(operatorAt + 2));
  if (value.empty()) {
    return errorf(ErrorKind::InvalidArgument, "constraint \"{}\": empty value ({})", expression,
                  kValidForms);
  }
  if (value.find("==") != std::string_view::npos || value.find("!=") != std::string_view::npos) {
    return errorf(ErrorKind::InvalidArgument, "constraint \"{}\": more than one operator ({})",
                  expression, kValidForms);
  }

  Constraint constraint;
  constraint.equal = equal;
  constraint.value = std::string(value);
  constexpr std::string_view kLabelPrefix = "node.labels.";
  if (key == "node.id") {
    constraint.field = Constraint::Field::Id;
  } else if (key == "node.hostname") {
    constraint.field = Constraint::Field::Hostname;
  } else if (key == "node.role") {
    constraint.field = Constraint::Field::Role;
    if (value != "manager" && value != "worker") {
      return errorf(ErrorKind::InvalidArgument,
                    "constraint \"{}\": node.role is \"{}\"; valid roles: manager, worker",
                    expression, value);
    }
  } else if (key.starts_with(kLabelPrefix) && key.size() > kLabelPrefix.size()) {
    constraint.field = Constraint::Field::Label;
    constraint.label = std::string(key.substr(kLabelPrefix.size()));
  } else {
    return errorf(ErrorKind::InvalidArgument, "constraint \"{}\": unknown field \"{}\" ({})",
                  expression, key, kValidForms);
  }
  return constraint;
}

Result<std::vector<Constraint>> parseConstraints(const std::vector<std::string>& expressions) {
  std::vector<Constraint> constraints;
  constraints.reserve(expressions.size());
  for (const std::string& expression : expressions) {
    auto constraint = parseConstraint(expression);
    if (!constraint) {
      return std::unexpected(constraint.error());
    }
    constraints.push_back(std::move(*constraint));
  }
  return constraints;
}

bool matches(const api::Node& node, const Constraint& constraint) {
  switch (constraint.field) {
    case Constraint::Field::Id:
      return (node.id == constraint.value) == constraint.equal;
    case Constraint::Field::Hostname:
      return (node.hostname == constraint.value) == constraint.equal;
    case Constraint::Field::Role:
      return (node.role == constraint.value) == constraint.equal;
    case Constraint::Field::Label: {
      // Docker: a node without the label fails `==` and satisfies `!=`.
      const auto found = node.labels.find(constraint.label);
      const bool same = found != node.labels.end() && found->second == constraint.value;
      return same == constraint.equal;
    }
  }
  return false;
}

bool matches(const api::Node& node, const std::vector<Constraint>& constraints) {
  for (const Constraint& constraint : constraints) {
    if (!matches(node, constraint)) {
      return false;
    }
  }
  return true;
}

std::string toString(const Constraint& constraint) {
  std::string_view field;
  switch (constraint.field) {
    case Constraint::Field::Id:
      field = "node.id";
      break;
    case Constraint::Field::Hostname:
      field = "node.hostname";
      break;
    case Constraint::Field::Role:
      field = "node.role";
      break;
    case Constraint::Field::Label:
      return fmt::format("node.labels.{}{}{}", constraint.label,
                         constraint.equal ? "==" : "!=", constraint.value);
  }
  return fmt::format("{}{}{}", field, constraint.equal ? "==" : "!=", constraint.value);
}

}  // namespace overmesh::orchestrator
