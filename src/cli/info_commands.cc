#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_context.h"
#include "cli/manager_status_format.h"
#include "cli/host_ports_info.h"
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

std::string formatLeadershipLines(const nlohmann::json& info) {
  auto store = info.find("store");
  if (store == info.end() || !store->is_string() || store->get<std::string>().empty()) {
    return "";
  }
  auto text = [&](const char* name) {
    auto found = info.find(name);
    return found != info.end() && found->is_string() ? found->get<std::string>() : "";
  };
  auto leader = info.find("isLeader");
  bool isLeader = leader != info.end() && leader->is_boolean() && leader->get<bool>();
  std::string address = text("leaderAddress");
  return fmt::format("Store:           {}\nIs Leader:       {}\nLeader Address:  {}\n",
                     store->get<std::string>(), isLeader ? "true" : "false",
                     address.empty() ? "(none: an election is under way)" : address);
}

namespace {

// The strings of `info[name]` when it is an array; non-strings are skipped.
std::vector<std::string> stringsOf(const nlohmann::json& object, const char* name) {
  std::vector<std::string> strings;
  auto found = object.find(name);
  if (found == object.end() || !found->is_array()) {
    return strings;
  }
  for (const auto& element : *found) {
    if (element.is_string()) {
      strings.push_back(element.get<std::string>());
    }
  }
  return strings;
}

}  // namespace

std::string formatHostPorts(const nlohmann::json& info) {
  std::string out;
  if (!info.is_object()) {
    return out;
  }
  if (auto ports = stringsOf(info, "ports"); !ports.empty()) {
    out += fmt::format("Ports needed:    {}\n", fmt::join(ports, ", "));
  }
  auto firewall = info.find("firewall");
  if (firewall == info.end() || !firewall->is_object()) {
    return out;
  }
  auto error = firewall->find("error");
  if (error != firewall->end() && error->is_string()) {
    return out + fmt::format("Host firewall:   cannot check: {}\n", error->get<std::string>());
  }
  auto blocks = stringsOf(*firewall, "blocks");
  if (blocks.empty()) {
    return out +
           "Host firewall:   no nftables rule of another table blocks them (legacy "
           "iptables rules are not visible)\n";
  }
  out += fmt::format("Host firewall:   {} rule{} block{} ports this node needs:\n", blocks.size(),
                     blocks.size() == 1 ? "" : "s", blocks.size() == 1 ? "s" : "");
  for (const std::string& block : blocks) {
    out += "  " + block + "\n";
  }
  return out;
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
        *context.out << "Client: " << overmesh::daemon::kVersion
                     << "\nDaemon: " << daemon->value("version", "?") << '\n';
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
            << "Manager address: " << json->value("managerAddress", "") << '\n'
            << formatLeadershipLines(*json);
        if (auto registries = json->find("registries"); registries != json->end()) {
          out << formatRegistrySettings(*registries);
        }
        out << "Underlay filter: " << formatUnderlayFilter(*json) << '\n';
      }
      out << formatHostPorts(*json);
      out << "State dir:       " << json->value("stateDir", "") << '\n'
          << "Socket:          " << json->value("socket", "") << '\n';
      return {};
    };
  });
}

}  // namespace overmesh::cli
