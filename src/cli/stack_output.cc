#include "cli/stack_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "cli/table.h"

namespace overmesh::cli {

std::vector<std::string> stackDeployLines(const api::StackDeployReply& reply) {
  std::vector<std::string> lines;
  for (const auto& name : reply.networksCreated) {
    lines.push_back("Creating network " + name);
  }
  for (const auto& name : reply.servicesCreated) {
    lines.push_back("Creating service " + name);
  }
  for (const auto& service : reply.servicesUpdated) {
    lines.push_back(fmt::format("Updating service {} (id: {})", service.spec.name, service.id));
  }
  for (const auto& name : reply.servicesUnchanged) {
    lines.push_back(fmt::format("Service {} is unchanged", name));
  }
  for (const auto& name : reply.servicesRemoved) {
    lines.push_back("Removing service " + name);
  }
  return lines;
}

StackRemoveOutput stackRemoveLines(const api::StackRemoveReply& reply) {
  StackRemoveOutput output;
  for (const auto& name : reply.servicesRemoved) {
    output.out.push_back("Removing service " + name);
  }
  for (const auto& name : reply.networksRemoved) {
    output.out.push_back("Removing network " + name);
  }
  output.err = reply.errors;
  return output;
}

void printStackTable(std::ostream& out, std::vector<api::StackSummary> stacks) {
  std::sort(stacks.begin(), stacks.end(),
            [](const api::StackSummary& a, const api::StackSummary& b) { return a.name < b.name; });
  Table table({"NAME", "SERVICES"});
  for (const auto& stack : stacks) {
    table.addRow({stack.name, std::to_string(stack.services)});
  }
  table.print(out);
}

std::vector<api::Service> servicesOfStack(const std::vector<api::Service>& services,
                                          const std::string& stack) {
  std::vector<api::Service> found;
  std::copy_if(
      services.begin(), services.end(), std::back_inserter(found),
      [&](const api::Service& service) { return api::inStack(service.spec.labels, stack); });
  std::sort(found.begin(), found.end(),
            [](const api::Service& a, const api::Service& b) { return a.spec.name < b.spec.name; });
  return found;
}

Result<std::string> readBoundedStream(std::istream& in, std::size_t maxBytes,
                                      const std::string& what) {
  std::string text;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    auto count = static_cast<std::size_t>(in.gcount());
    if (text.size() + count > maxBytes) {
      return errorf(ErrorKind::InvalidArgument,
                    "{} holds more than {} bytes: a compose file is at most that large", what,
                    maxBytes);
    }
    text.append(buffer, count);
  }
  if (in.bad()) {
    return errorf(ErrorKind::Unavailable, "could not read {}", what);
  }
  return text;
}

compose::Environment environmentFromEntries(const char* const* envp) {
  compose::Environment environment;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    std::string entry(*envp);
    auto equals = entry.find('=');
    if (equals == std::string::npos || equals == 0) {
      continue;
    }
    environment.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  return environment;
}

}  // namespace overmesh::cli
