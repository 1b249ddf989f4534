#include <memory>
#include <vector>

#include "api/percent_encoding.h"
#include "api/types.h"
#include "cli/cli_context.h"
#include "cli/each_object.h"
#include "cli/table.h"
#include "common/ids.h"

namespace overmesh::cli {
namespace {

struct CreateOptions {
  std::string name;
  std::string driver = "overlay";
  std::string subnet;
  std::string gateway;
  bool attachable = false;
  bool internal = false;
  bool ingress = false;
  std::vector<std::string> labels;
  std::vector<std::string> driverOptions;  // -o KEY=VALUE
};

Result<api::Labels> parseLabels(const std::vector<std::string>& labels,
                                std::string_view flag = "--label") {
  api::Labels parsed;
  for (const auto& label : labels) {
    auto equals = label.find('=');
    std::string key = label.substr(0, equals);
    if (key.empty()) {
      return errorf(ErrorKind::InvalidArgument, "{} \"{}\" has no key: use {} key=value", flag,
                    label, flag);
    }
    parsed[key] = equals == std::string::npos ? "" : label.substr(equals + 1);
  }
  return parsed;
}

Status runCreate(CliContext& context, const CreateOptions& options) {
  api::NetworkCreateRequest request;
  request.name = options.name;
  request.driver = options.driver;
  if (!options.subnet.empty()) {
    request.subnet = options.subnet;
  }
  if (!options.gateway.empty()) {
    request.gateway = options.gateway;
  }
  request.attachable = options.attachable;
  request.internal = options.internal;
  request.ingress = options.ingress;
  auto labels = parseLabels(options.labels);
  if (!labels) {
    return std::unexpected(labels.error());
  }
  request.labels = *labels;
  auto driverOptions = parseLabels(options.driverOptions, "--opt");
  if (!driverOptions) {
    return std::unexpected(driverOptions.error());
  }
  request.options = *driverOptions;
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto network = client->post("/v1/networks", nlohmann::json(request));
  if (!network) {
    return std::unexpected(network.error());
  }
  *context.out << network->value("id", "") << '\n';
  return {};
}

Status runList(CliContext& context, const std::string& format, bool quiet) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto networks = client->get("/v1/networks");
  if (!networks) {
    return std::unexpected(networks.error());
  }
  if (format == "json") {
    printJson(*context.out, *networks);
    return {};
  }
  if (quiet) {
    for (const auto& network : *networks) {
      *context.out << shortId(network.value("id", "")) << '\n';
    }
    return {};
  }
  Table table({"NETWORK ID", "NAME", "DRIVER", "SCOPE", "SUBNET", "GATEWAY", "VNI", "FLAGS"});
  for (const auto& json : *networks) {
    auto network = json.get<api::Network>();
    std::vector<std::string> flags;
    if (network.attachable) {
      flags.emplace_back("attachable");
    }
    if (network.internal) {
      flags.emplace_back("internal");
    }
    if (network.ingress) {
      flags.emplace_back("ingress");
    }
    table.addRow({shortId(network.id), network.name, network.driver, "swarm", network.subnet,
                  network.gateway, std::to_string(network.vni),
                  flags.empty() ? "-" : fmt::format("{}", fmt::join(flags, ","))});
  }
  table.print(*context.out);
  return {};
}

std::string networkPath(const std::string& reference) {
  return "/v1/networks/" + api::percentEncode(reference);
}

Status runNetworkInspect(CliContext& context, const std::vector<std::string>& references) {
  return inspectEach(context, references, networkPath);
}

Status runRemove(CliContext& context, const std::vector<std::string>& references) {
  return removeEach(context, references, networkPath);
}

}  // namespace

void addNetworkCommands(CLI::App& app, CliContext& context) {
  CLI::App* network = app.add_subcommand("network", "Manage overlay networks");
  network->require_subcommand(1);

  auto create = context.hold<CreateOptions>();
  CLI::App* createCommand = network->add_subcommand("create", "Create an overlay network");
  createCommand->add_option("-d,--driver", create->driver, "Network driver (overlay)")
      ->capture_default_str();
  createCommand->add_option("--subnet", create->subnet,
                            "Subnet in CIDR form, e.g. 10.0.15.0/24 (default: from the pool)");
  createCommand->add_option("--gateway", create->gateway,
                            "Gateway address inside the subnet (default: its first address)");
  createCommand->add_flag("--attachable", create->attachable,
                          "Allow standalone tasks (`overmesh run`) to attach");
  createCommand->add_flag("--internal", create->internal, "No route out of the overlay");
  createCommand->add_flag("--ingress", create->ingress,
                          "Create swarm routing-mesh network (at most one; replaces the one "
                          "`network rm ingress` removed)");
  // One value per flag (like Docker): a repeatable option must not swallow what follows.
  createCommand->add_option("--label", create->labels, "Metadata, key=value (repeatable)")
      ->allow_extra_args(false);
  createCommand->add_option("-o,--opt", create->driverOptions,
                            "Driver option KEY=VALUE (repeatable): com.docker.network.driver.mtu")
      ->allow_extra_args(false);
  createCommand->add_option("name", create->name, "Network name")->required();
  createCommand->callback([&context, create] {
    context.action = [&context, create] { return runCreate(context, *create); };
  });

  auto listFormat = context.hold<std::string>("table");
  auto listQuiet = context.hold<bool>(false);
  CLI::App* list = network->add_subcommand("ls", "List networks");
  list->alias("list");
  addFormatOption(list, *listFormat);
  list->add_flag("-q,--quiet", *listQuiet, "Print only network IDs");
  list->callback([&context, listFormat, listQuiet] {
    context.action = [&context, listFormat, listQuiet] {
      return runList(context, *listFormat, *listQuiet);
    };
  });

  auto inspectRefs = context.hold<std::vector<std::string>>();
  auto inspectFormat = context.hold<std::string>("json");
  CLI::App* inspect = network->add_subcommand("inspect", "Show networks in detail (JSON)");
  inspect->add_option("network", *inspectRefs, "Network names or IDs")->required();
  inspect->add_option("--format", *inspectFormat, "Output format: json")
      ->check(CLI::IsMember({"json"}))
      ->capture_default_str();
  inspect->callback([&context, inspectRefs] {
    context.action = [&context, inspectRefs] { return runNetworkInspect(context, *inspectRefs); };
  });

  auto removeRefs = context.hold<std::vector<std::string>>();
  CLI::App* remove = network->add_subcommand("rm", "Remove networks");
  remove->alias("remove");
  remove->add_option("network", *removeRefs, "Network names or IDs")->required();
  remove->callback([&context, removeRefs] {
    context.action = [&context, removeRefs] { return runRemove(context, *removeRefs); };
  });
}

}  // namespace overmesh::cli
