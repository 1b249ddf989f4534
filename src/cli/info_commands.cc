#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cli/cli_context.h"
#include "cli/registry_flags.h"
#include "daemon/version.h"

namespace overmesh::cli {

std::string formatUnderlayFilter(const nlohmann::json& info) {
  auto filter = info.find("underlayFilter");
  if (filter == info.end() || !filter->is_object()) {
    return "not installed (VXLAN and the node port accept every address)";
  }
  auto count = [&](const char* name) -> std::uint64_t {
    auto found = filter->find(name);
    return found != filter->end() && found->is_number_unsigned() ? found->get<std::uint64_t>() : 0;
  };
  return fmt::format("members only; dropped {} VXLAN and {} node-port packets from non-members",
                     count("vxlanDropped"), count("nodePortDropped"));
}

void addInfoCommands(CLI::App& app, CliContext& context) {
  auto versionFormat = context.hold<std::string>("table");
  CLI::App* version = app.add_subcommand("version", "Show the client and daemon versions");
  addFormatOption(version, *versionFormat);
  version->callback([&context, versionFormat] {
    context.action = [&context, versionFormat]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      auto daemon = client->get("/v1/version");
      if (!daemon) {
        return std::unexpected(daemon.error());
      }
      if (*versionFormat == "json") {
        printJson(*context.out, {{"client", overmesh::daemon::kVersion}, {"daemon", *daemon}});
      } else {
        *context.out << "Client: " << overmesh::daemon::kVersion << "\nDaemon: " << daemon->value("version", "?") << '\n';
      }
      return {};
    };
  });

  auto infoFormat = context.hold<std::string>("table");
  CLI::App* info = app.add_subcommand("info", "Show this node's daemon and swarm state");
  addFormatOption(info, *infoFormat);
  info->callback([&context, infoFormat] {
    context.action = [&context, infoFormat]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      auto json = client->get("/v1/info");
      if (!json) {
        return std::unexpected(json.error());
      }
      if (*infoFormat == "json") {
        printJson(*context.out, *json);
        return {};
      }
      auto& out = *context.out;
      out << "Version:         " << json->value("version", "") << '\n'
          << "Swarm:           " << json->value("swarm", "") << '\n';
      if (json->value("swarm", "") == "active") {
        out << "Node ID:         " << json->value("nodeId", "") << '\n'
            << "Role:            " << json->value("role", "") << '\n'
            << "Cluster ID:      " << json->value("clusterId", "") << '\n'
            << "Manager address: " << json->value("managerAddress", "") << '\n';
        if (auto registries = json->find("registries"); registries != json->end()) {
          out << formatRegistrySettings(*registries);
        }
        out << "Underlay filter: " << formatUnderlayFilter(*json) << '\n';
      }
      out << "State dir:       " << json->value("stateDir", "") << '\n'
          << "Socket:          " << json->value("socket", "") << '\n';
      return {};
    };
  });
}

}  // namespace overmesh::cli
