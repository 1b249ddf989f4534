#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include "api/types.h"
#include "cli/cli_context.h"
#include "cli/registry_flags.h"
#include "common/duration.h"
#include "security/pki.h"

namespace overmesh::cli {
namespace {

// `--store-cacert/--store-cert/--store-key`: a manager's own etcd client files. Paths are
// made absolute here: the daemon reads them, from its own working directory.
struct StoreFlags {
  std::string url;  // init only
  std::string caFile;
  std::string certFile;
  std::string keyFile;
};

std::string absolutePath(const std::string& path) {
  if (path.empty()) {
    return path;
  }
  std::error_code error;
  auto absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

void addStoreTlsOptions(CLI::App* command, StoreFlags& flags) {
  command->add_option("--store-cacert", flags.caFile,
                      "CA certificate (PEM) that etcd's server certificates chain to");
  command->add_option("--store-cert", flags.certFile, "Client certificate (PEM) for etcd");
  command->add_option("--store-key", flags.keyFile, "Client certificate's key (PEM) for etcd");
}

struct InitOptions {
  std::string advertiseAddr;
  std::vector<std::string> pools;
  int maskLength = 0;
  std::string nodeTimeout;
  std::string ingressSubnet;
  std::string certExpiry;
  RegistryFlags registries;
  StoreFlags store;
};

struct UpdateOptions {
  RegistryFlags registries;
  std::string certExpiry;
};

// `--cert-expiry DURATION` (a Go duration) in milliseconds, within security/pki.h's bounds.
// InvalidArgument naming the flag, the value and the bounds.
Result<std::int64_t> certExpiryFromFlag(const std::string& text) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const std::int64_t minMs = duration_cast<milliseconds>(security::kMinCertExpiry).count();
  const std::int64_t maxMs = duration_cast<milliseconds>(security::kMaxCertExpiry).count();
  auto parsed = parseDuration(text, "--cert-expiry", maxMs);
  if (!parsed || parsed->count() < minMs) {
    return errorf(ErrorKind::InvalidArgument,
                  "--cert-expiry \"{}\" is not valid: give a duration from 1m to 43800h (5 "
                  "years), e.g. 2160h for 90 days (the default) or 720h",
                  text);
  }
  return parsed->count();
}

bool anyRegistryFlag(const RegistryFlags& flags) {
  return !flags.insecureRegistries.empty() || !flags.registryMirrors.empty() ||
         flags.clearInsecureRegistries || flags.clearRegistryMirrors;
}

Status runUpdate(CliContext& context, const UpdateOptions& options) {
  api::SwarmUpdateRequest request;
  // Without --cert-expiry the registry flags must change something (their own message).
  if (options.certExpiry.empty() || anyRegistryFlag(options.registries)) {
    auto registries = swarmUpdateFromFlags(options.registries);
    if (!registries) {
      return std::unexpected(registries.error());
    }
    request = *registries;
  }
  if (!options.certExpiry.empty()) {
    auto expiry = certExpiryFromFlag(options.certExpiry);
    if (!expiry) {
      return std::unexpected(expiry.error());
    }
    request.certExpiryMs = *expiry;
  }
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto settings = client->post("/v1/swarm/update", nlohmann::json(request));
  if (!settings) {
    return std::unexpected(settings.error());
  }
  *context.out << "Swarm updated.\n" << formatRegistrySettings(*settings);
  if (!options.certExpiry.empty()) {
    *context.out << "Certificate expiry:  " << options.certExpiry
                 << " (nodes renew their certificates to it within seconds)\n";
  }
  return {};
}

// Docker's text for a join token: the command that joins a node with it.
void printJoinCommand(std::ostream& out, const std::string& role, const std::string& token,
                      const std::string& managerAddress) {
  out << "To add a " << role << " to this swarm, run the following command:\n\n"
      << "    overmesh swarm join --token " << token << ' ' << managerAddress << "\n\n";
}

struct JoinTokenOptions {
  std::string role;
  bool rotate = false;
  bool quiet = false;
};

Status runJoinToken(CliContext& context, const JoinTokenOptions& options) {
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  const std::string query = "?role=" + options.role;
  auto answer = options.rotate
                    ? client->post("/v1/swarm/join-token/rotate" + query, nlohmann::json::object())
                    : client->get("/v1/swarm/join-token" + query);
  if (!answer) {
    return std::unexpected(answer.error());
  }
  std::string token = answer->value("token", "");
  auto& out = *context.out;
  if (options.quiet) {
    out << token << '\n';
    return {};
  }
  if (options.rotate) {
    out << "Successfully rotated " << options.role << " join token.\n\n";
  }
  auto info = client->get("/v1/info");
  if (!info) {
    return std::unexpected(info.error());
  }
  printJoinCommand(out, options.role, token, info->value("managerAddress", ""));
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
  if (!options.certExpiry.empty()) {
    auto expiry = certExpiryFromFlag(options.certExpiry);
    if (!expiry) {
      return std::unexpected(expiry.error());
    }
    request.certExpiryMs = *expiry;
  }
  request.ingressSubnet = options.ingressSubnet;
  request.registries.insecureRegistries = options.registries.insecureRegistries;
  request.registries.registryMirrors = options.registries.registryMirrors;
  request.store = options.store.url;
  request.storeCaFile = absolutePath(options.store.caFile);
  request.storeCertFile = absolutePath(options.store.certFile);
  request.storeKeyFile = absolutePath(options.store.keyFile);
  auto client = context.client();
  if (!client) {
    return std::unexpected(client.error());
  }
  auto cluster = client->post("/v1/swarm/init", nlohmann::json(request));
  if (!cluster) {
    return std::unexpected(cluster.error());
  }
  auto& out = *context.out;
  out << "Swarm initialized: this node is now a manager of cluster " << cluster->value("id", "")
      << ".\n\n";
  // The swarm exists whatever this answers: a failure only loses the hint.
  auto token = client->get("/v1/swarm/join-token?role=worker");
  if (token) {
    printJoinCommand(out, "worker", token->value("token", ""),
                     cluster->value("managerAddress", ""));
  } else {
    out << "Run `overmesh swarm join-token worker` for the command that adds a worker ("
        << token.error().message << ").\n\n";
  }
  if (cluster->value("store", "").starts_with("etcd://")) {
    out << "To add a manager to this swarm, run 'overmesh swarm join-token manager' and follow "
           "the instructions.\n\n";
  }
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
  initCommand->add_option("--cert-expiry", init->certExpiry,
                          "Validity of node certificates, renewed automatically (default "
                          "2160h, 90 days; 1m to 43800h)");
  addRegistryListOptions(initCommand, init->registries);
  initCommand->add_option("--store", init->store.url,
                          "Where the swarm's state lives: sqlite (default, one manager) or "
                          "etcd://HOST:PORT[,HOST:PORT...] (several managers)");
  addStoreTlsOptions(initCommand, init->store);
  initCommand->callback([&context, init] {
    context.action = [&context, init] { return runInit(context, *init); };
  });

  auto update = context.hold<UpdateOptions>();
  CLI::App* updateCommand = swarm->add_subcommand(
      "update",
      "Change the swarm's registry settings (a list given replaces the current one; see "
      "`overmesh info`) or its certificate expiry");
  addRegistryListOptions(updateCommand, update->registries);
  updateCommand->add_flag("--clear-insecure-registries", update->registries.clearInsecureRegistries,
                          "Remove every insecure registry");
  updateCommand->add_flag("--clear-registry-mirrors", update->registries.clearRegistryMirrors,
                          "Remove every registry mirror");
  updateCommand->add_option("--cert-expiry", update->certExpiry,
                            "Validity of node certificates signed from now on (1m to 43800h); "
                            "nodes holding a longer one renew at once");
  updateCommand->callback([&context, update] {
    context.action = [&context, update] { return runUpdate(context, *update); };
  });

  struct JoinOptions {
    std::string token;
    std::string remote;
    std::string advertiseAddr;
    StoreFlags store;
  };
  auto join = context.hold<JoinOptions>();
  CLI::App* joinCommand = swarm->add_subcommand(
      "join", "Join a swarm as a worker or, with the manager token, a manager");
  joinCommand
      ->add_option("--token", join->token,
                   "Join token from `swarm join-token worker` (or `manager`)")
      ->required();
  addStoreTlsOptions(joinCommand, join->store);
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
                             {"advertiseAddr", join->advertiseAddr},
                             {"storeCaFile", absolutePath(join->store.caFile)},
                             {"storeCertFile", absolutePath(join->store.certFile)},
                             {"storeKeyFile", absolutePath(join->store.keyFile)}};
      auto joined = client->post("/v1/swarm/join", body);
      if (!joined) {
        return std::unexpected(joined.error());
      }
      // The token decides the role: the daemon's info says which it became.
      auto info = client->get("/v1/info");
      std::string role = info ? info->value("role", "worker") : "worker";
      *context.out << "This node joined a swarm as a " << role << ".\n";
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
      // Longer than other requests: the daemon stops the node's tasks (each may take its
      // grace, kMaxConcurrentTaskStops at a time) and removes its kernel objects first.
      auto answer = client->send(
          "POST", std::string("/v1/swarm/leave?force=") + (*leaveForce ? "true" : "false"), "{}",
          std::chrono::minutes(5));
      if (!answer) {
        return std::unexpected(answer.error());
      }
      auto left = nlohmann::json::parse(*answer, nullptr, false);
      *context.out << "Node left the swarm.\n";
      // The daemon removed what the node made on the host; name what it could not.
      if (left.is_object() && left.contains("notRemoved") && left["notRemoved"].is_array()) {
        for (const auto& failed : left["notRemoved"]) {
          if (failed.is_string()) {
            *context.err << "warning: could not remove " << failed.get<std::string>() << "\n";
          }
        }
      }
      return {};
    };
  });

  auto tokenOptions = context.hold<JoinTokenOptions>();
  CLI::App* joinToken =
      swarm->add_subcommand("join-token", "Show (or rotate) the token that joins a node");
  joinToken->add_option("role", tokenOptions->role, "worker or manager")
      ->required()
      ->check(CLI::IsMember({"worker", "manager"}));
  joinToken->add_flag("--rotate", tokenOptions->rotate,
                      "Make a new token; the old one joins nothing from then on");
  joinToken->add_flag("-q,--quiet", tokenOptions->quiet, "Print the token only");
  joinToken->callback([&context, tokenOptions] {
    context.action = [&context, tokenOptions] { return runJoinToken(context, *tokenOptions); };
  });
}

}  // namespace overmesh::cli
