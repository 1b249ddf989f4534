#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>
#include <string>
#include <vector>

#include "api/percent_encoding.h"
#include "api/types.h"
#include "cli/cli_context.h"
#include "cli/manager_status_format.h"
#include "cli/node_role.h"
#include "cli/node_update.h"
#include "cli/table.h"
#include "common/ids.h"

namespace overmesh::cli {

std::string managerStatusColumn(std::string_view managerStatus) {
  if (managerStatus == "leader") {
    return "Leader";
  }
  if (managerStatus == "reachable") {
    return "Reachable";
  }
  if (managerStatus == "unreachable") {
    return "Unreachable";
  }
  return "";  // a worker, or a status this client does not know
}

namespace {

Status runList(CliContext& context, const std::string& format) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto nodes = client->get("/v1/nodes");
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  if (format == "json") {
    printJson(*context.out, *nodes);
    return {};
  }
  auto info = client->get("/v1/info");
  std::string self = info ? info->value("nodeId", "") : "";
  Table table({"ID", "HOSTNAME", "ADDRESS", "ROLE", "STATUS", "MANAGER STATUS"});
  for (const auto& json : *nodes) {
    auto node = json.get<api::Node>();
    std::string id = shortId(node.id) + (node.id == self ? " *" : "");
    table.addRow({id, node.hostname, node.address, node.role, node.state,
                  managerStatusColumn(node.managerStatus)});
  }
  table.print(*context.out);
  return {};
}

Status runNodeInspect(CliContext& context, const std::vector<std::string>& references) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  nlohmann::json found = nlohmann::json::array();
  for (const auto& reference : references) {
    auto node = client->get("/v1/nodes/" + api::percentEncode(reference));
    if (!node) {
      return std::unexpected(node.error());
    }
    found.push_back(*node);
  }
  printJson(*context.out, found);
  return {};
}

struct NodeUpdateOptions {
  std::string node;
  std::vector<std::string> labelAdd;
  std::vector<std::string> labelRm;
};

// Prints the node's hostname, as the daemon answered it.
Status runNodeUpdate(CliContext& context, const NodeUpdateOptions& options) {
  auto body = nodeUpdateBody(options.labelAdd, options.labelRm);
  if (!body) {
    return std::unexpected(body.error());
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto node = client->post("/v1/nodes/" + api::percentEncode(options.node) + "/update", *body);
  if (!node) {
    return std::unexpected(node.error());
  }
  *context.out << node->get<api::Node>().hostname << '\n';
  return {};
}

struct NodeRemoveOptions {
  std::vector<std::string> nodes;
  bool force = false;
};

// Prints each removed node as given; the failures are reported together at the end.
Status runNodeRemove(CliContext& context, const NodeRemoveOptions& options) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  std::vector<std::string> failures;
  for (const auto& node : options.nodes) {
    auto removed =
        client->del("/v1/nodes/" + api::percentEncode(node) + (options.force ? "?force=true" : ""));
    if (!removed) {
      failures.push_back(removed.error().message);
      continue;
    }
    *context.out << node << '\n';
  }
  if (!failures.empty()) {
    return errorf(ErrorKind::FailedPrecondition, "{}", fmt::join(failures, "\n"));
  }
  return {};
}

struct NodeRoleOptions {
  std::vector<std::string> nodes;
};

// `node promote|demote NODE…`: one line per node as Docker prints it; the failures are
// reported together at the end.
Status runNodeRole(CliContext& context, const NodeRoleOptions& options, bool promote) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  std::vector<std::string> failures;
  for (const auto& node : options.nodes) {
    auto changed =
        client->post("/v1/nodes/" + api::percentEncode(node) + (promote ? "/promote" : "/demote"),
                     nlohmann::json::object());
    if (!changed) {
      failures.push_back(changed.error().message);
      continue;
    }
    *context.out << roleChangeMessage(node, promote, changed->value("changed", true)) << '\n';
  }
  if (!failures.empty()) {
    return errorf(ErrorKind::FailedPrecondition, "{}", fmt::join(failures, "\n"));
  }
  return {};
}

// Adds `node promote` and `node demote`.
void addNodeRoleCommands(CLI::App* node, CliContext& context) {
  for (bool promote : {true, false}) {
    auto options = context.hold<NodeRoleOptions>();
    CLI::App* command =
        node->add_subcommand(promote ? "promote" : "demote",
                             promote ? "Promote nodes to managers (the swarm's store must be etcd)"
                                     : "Demote managers to workers (never the last manager)");
    command->add_option("node", options->nodes, "Node hostnames or IDs")->required();
    command->callback([&context, options, promote] {
      context.action = [&context, options, promote] {
        return runNodeRole(context, *options, promote);
      };
    });
  }
}

}  // namespace

void addNodeCommands(CLI::App& app, CliContext& context) {
  CLI::App* node = app.add_subcommand("node", "Manage swarm nodes");
  node->require_subcommand(1);

  auto listFormat = context.hold<std::string>("table");
  CLI::App* list = node->add_subcommand("ls", "List nodes (* marks this node)");
  list->alias("list");
  addFormatOption(list, *listFormat);
  list->callback([&context, listFormat] {
    context.action = [&context, listFormat] { return runList(context, *listFormat); };
  });

  auto inspectRefs = context.hold<std::vector<std::string>>();
  CLI::App* inspect = node->add_subcommand("inspect", "Show nodes in detail (JSON)");
  inspect->add_option("node", *inspectRefs, "Node hostnames or IDs")->required();
  inspect->callback([&context, inspectRefs] {
    context.action = [&context, inspectRefs] { return runNodeInspect(context, *inspectRefs); };
  });

  auto update = context.hold<NodeUpdateOptions>();
  CLI::App* updateCommand = node->add_subcommand("update", "Change a node's labels");
  updateCommand
      ->add_option("--label-add", update->labelAdd, "Add or replace a label KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  updateCommand->add_option("--label-rm", update->labelRm, "Remove a label by KEY (repeatable)")
      ->allow_extra_args(false);
  updateCommand->add_option("node", update->node, "Node hostname or ID")->required();
  updateCommand->callback([&context, update] {
    context.action = [&context, update] { return runNodeUpdate(context, *update); };
  });

  auto remove = context.hold<NodeRemoveOptions>();
  CLI::App* removeCommand = node->add_subcommand("rm", "Remove nodes from the swarm");
  removeCommand->alias("remove");
  removeCommand->add_flag("-f,--force", remove->force,
                          "Remove a node that is not down (its certificate is refused at once)");
  removeCommand->add_option("node", remove->nodes, "Node hostnames or IDs")->required();
  removeCommand->callback([&context, remove] {
    context.action = [&context, remove] { return runNodeRemove(context, *remove); };
  });

  addNodeRoleCommands(node, context);
}

}  // namespace overmesh::cli
