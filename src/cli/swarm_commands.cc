#include <memory>
#include <vector>

#include "api/types.h"
#include "cli/cli_context.h"
#include "common/duration.h"
#include "cli/registry_flags.h"

namespace overmesh::cli {
namespace {

struct InitOptions {
  std::string advertiseAddr;
  std::vector<std::string> pools;
  int maskLength = 0;
  std::string nodeTimeout;
  std::string ingressSubnet;
  RegistryFlags registries;
};

Status runUpdate(CliContext& context, const RegistryFlags& flags) {
  auto request = swarmUpdateFromFlags(flags);
  if (!request) {
    return std::unexpected(request.error());
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto settings = client->post("/v1/swarm/update", nlohmann::json(*request));
  if (!settings) {
    return std::unexpected(settings.error());
  }
  *context.out << "Swarm updated.\n" << formatRegistrySettings(*settings);
  return {};
}

// Adds the registry list flags that init and update share.
void addRegistryListOptions(CLI::App* command, RegistryFlags& flags) {
  command
      ->add_option("--insecure-registry", flags.insecureRegistries,
                   "Registry HOST[:PORT] reached over plain HTTP without TLS (repeatable)")
      ->allow_extra_args(false);
  command
      ->add_option("--registry-mirror", flags.registryMirrors,
                   "Mirror http[s]://HOST[:PORT] asked first for docker.io images (repeatable)")
      ->allow_extra_args(false);
}

Status runInit(CliContext& context, const InitOptions& options) {
  api::SwarmInitRequest request;
  request.advertiseAddr = options.advertiseAddr;
  request.defaultAddrPools = options.pools;
  if (options.maskLength != 0) {
    request.defaultAddrPoolMaskLength = options.maskLength;
  }
  if (!options.nodeTimeout.empty()) {
    auto timeout = parseDuration(options.nodeTimeout, "--node-timeout");
    if (!timeout) {
      return std::unexpected(timeout.error());
    }
    request.nodeTimeoutMs = timeout->count();
  }
  request.ingressSubnet = options.ingressSubnet;
  request.registries.insecureRegistries = options.registries.insecureRegistries;
  request.registries.registryMirrors = options.registries.registryMirrors;
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto cluster = client->post("/v1/swarm/init", nlohmann::json(request));
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  auto& out = *context.out;
  out << "Swarm initialized: this node is now a manager of cluster "
      << cluster->value("id", "") << ".\n\n"
      << "To add a worker to this swarm, run the following command:\n\n"
      << "    overmesh swarm join --token " << cluster->value("workerJoinToken", "") << ' '
      << cluster->value("managerAddress", "") << "\n\n";
  return {};
}

}  // namespace

void addSwarmCommands(CLI::App& app, CliContext& context) {
  CLI::App* swarm = app.add_subcommand("swarm", "Manage the swarm");
  swarm->require_subcommand(1);

  auto init = context.hold<InitOptions>();
  CLI::App* initCommand = swarm->add_subcommand("init", "Create a swarm with this node as manager");
  initCommand->add_option("--advertise-addr", init->advertiseAddr,
                          "Underlay IPv4 address other nodes reach this one at");
  initCommand->add_option("--default-addr-pool", init->pools,
                          "Address pool for networks without --subnet (repeatable; default "
                          "10.0.0.0/8)")
      ->allow_extra_args(false);
  initCommand->add_option("--default-addr-pool-mask-length", init->maskLength,
                          "Prefix length of subnets taken from the pools (default 24)");
  initCommand->add_option("--node-timeout", init->nodeTimeout,
                          "Time without heartbeats after which a node is down (default 3s)");
  initCommand->add_option("--ingress-subnet", init->ingressSubnet,
                          "Subnet in CIDR form of the routing-mesh network, ingress (default: "
                          "the next free subnet of the pools)");
  addRegistryListOptions(initCommand, init->registries);
  initCommand->callback([&context, init] {
    context.action = [&context, init] { return runInit(context, *init); };
  });

  auto update = context.hold<RegistryFlags>();
  CLI::App* updateCommand = swarm->add_subcommand(
      "update",
      "Change the swarm's registry settings (a list given replaces the current one; see "
      "`overmesh info`)");
  addRegistryListOptions(updateCommand, *update);
  updateCommand->add_flag("--clear-insecure-registries", update->clearInsecureRegistries,
                          "Remove every insecure registry");
  updateCommand->add_flag("--clear-registry-mirrors", update->clearRegistryMirrors,
                          "Remove every registry mirror");
  updateCommand->callback([&context, update] {
    context.action = [&context, update] { return runUpdate(context, *update); };
  });

  struct JoinOptions {
    std::string token;
    std::string remote;
    std::string advertiseAddr;
  };
  auto join = context.hold<JoinOptions>();
  CLI::App* joinCommand = swarm->add_subcommand("join", "Join a swarm as a worker");
  joinCommand->add_option("--token", join->token, "Join token from `swarm join-token worker`")
      ->required();
  joinCommand->add_option("--advertise-addr", join->advertiseAddr,
                          "Underlay IPv4 address other nodes reach this one at");
  joinCommand->add_option("manager", join->remote, "Manager address, IP[:PORT] (port 2377)")
      ->required();
  joinCommand->callback([&context, join] {
    context.action = [&context, join]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      nlohmann::json body = {{"token", join->token},
                             {"remoteAddress", join->remote},
                             {"advertiseAddr", join->advertiseAddr}};
      auto joined = client->post("/v1/swarm/join", body);
      if (!joined) {
        return std::unexpected(joined.error());
      }
      *context.out << "This node joined a swarm as a worker.\n";
      return {};
    };
  });

  auto leaveForce = context.hold<bool>(false);
  CLI::App* leave = swarm->add_subcommand("leave", "Leave the swarm");
  leave->add_flag("-f,--force", *leaveForce,
                  "Leave even when this is the manager or the manager cannot be reached");
  leave->callback([&context, leaveForce] {
    context.action = [&context, leaveForce]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      auto left = client->post(std::string("/v1/swarm/leave?force=") +
                                   (*leaveForce ? "true" : "false"),
                               nlohmann::json::object());
      if (!left) {
        return std::unexpected(left.error());
      }
      *context.out << "Node left the swarm.\n";
      return {};
    };
  });

  auto tokenRole = context.hold<std::string>();
  CLI::App* joinToken = swarm->add_subcommand("join-token", "Show the token that joins a node");
  joinToken->add_option("role", *tokenRole, "worker")
      ->required()
      ->check(CLI::IsMember({"worker"}));
  joinToken->callback([&context] {
    context.action = [&context]() -> Status {
      auto client = context.client();
      if (!client) {
        return std::unexpected(client.error());
      }
      auto tokens = client->get("/v1/swarm/join-token");
      if (!tokens) {
        return std::unexpected(tokens.error());
      }
      auto info = client->get("/v1/info");
      if (!info) {
        return std::unexpected(info.error());
      }
      *context.out << "To add a worker to this swarm, run the following command:\n\n"
                   << "    overmesh swarm join --token " << tokens->value("worker", "") << ' '
                   << info->value("managerAddress", "") << "\n\n";
      return {};
    };
  });
}

}  // namespace overmesh::cli
