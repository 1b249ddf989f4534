#include "cli/service_spec_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string_view>

#include "common/duration.h"
#include "cli/port_flags.h"

namespace overmesh::cli {
namespace {

// Largest value of a count flag other than --replicas (attempts, retries, parallelism).
constexpr std::int64_t kMaxCount = 1'000'000;

Result<std::int64_t> parseWholeNumber(const std::string& flag, const std::string& value,
                                      std::int64_t min, std::int64_t max) {
  std::int64_t number = 0;
  const char* end = value.data() + value.size();
  auto [rest, error] = std::from_chars(value.data(), end, number);
  if (error != std::errc() || rest != end || value.empty() || number < min || number > max) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not valid: give a whole number from {} to {}", flag, value, min,
                  max);
  }
  return number;
}

Status checkOneOf(const std::string& flag, const std::string& value,
                  std::initializer_list<std::string_view> valid) {
  if (std::find(valid.begin(), valid.end(), value) != valid.end()) {
    return {};
  }
  return errorf(ErrorKind::InvalidArgument, "{} \"{}\" is not valid: use {}", flag, value,
                fmt::join(valid, ", "));
}

Result<std::int64_t> parseMillis(const std::string& flag, const std::string& value) {
  auto duration = parseDuration(value, flag);
  if (!duration) {
    return std::unexpected(duration.error());
  }
  return duration->count();
}

// A duration that must be more than zero (a health check's interval and timeout).
Result<std::int64_t> parsePositiveMillis(const std::string& flag, const std::string& value) {
  auto millis = parseMillis(flag, value);
  if (millis && *millis == 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not valid: give a duration of at least 1ms, e.g. 30s", flag, value);
  }
  return millis;
}

// The key of "KEY=VALUE" (or of a bare "KEY"); empty when the text starts with '='.
std::string keyOf(const std::string& entry) { return entry.substr(0, entry.find('=')); }

Status checkEnvEntry(const std::string& flag, const std::string& entry) {
  if (entry.find('=') == std::string::npos || keyOf(entry).empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not valid: use KEY=VALUE with a non-empty KEY", flag, entry);
  }
  return {};
}

// Sets `out` from `text` through `parse` when the flag was given.
template <typename Parse>
Status setIfGiven(const std::optional<std::string>& text, std::int64_t& out, Parse&& parse) {
  if (!text) {
    return {};
  }
  auto value = parse(*text);
  if (!value) {
    return std::unexpected(value.error());
  }
  out = *value;
  return {};
}

bool anyHealthOption(const ServiceSpecFlags& flags) {
  return flags.healthInterval || flags.healthTimeout || flags.healthRetries ||
         flags.healthStartPeriod;
}

// The first health option given, for messages.
std::string firstHealthOption(const ServiceSpecFlags& flags) {
  if (flags.healthCmd) {
    return "--health-cmd";
  }
  if (flags.healthInterval) {
    return "--health-interval";
  }
  if (flags.healthTimeout) {
    return "--health-timeout";
  }
  if (flags.healthRetries) {
    return "--health-retries";
  }
  return "--health-start-period";
}

// Applies the shared flags onto `spec`. Health options need a check to change: `spec`'s
// own or the one --health-cmd makes (with Docker's defaults).
Status applySpecFlags(const ServiceSpecFlags& flags, api::ServiceSpec& spec) {
  if (flags.endpointMode) {
    if (auto valid = checkOneOf("--endpoint-mode", *flags.endpointMode, {"vip", "dnsrr"}); !valid) {
      return valid;
    }
    spec.endpointMode = *flags.endpointMode;
  }
  auto& restart = spec.restartPolicy;
  if (flags.restartCondition) {
    if (auto valid = checkOneOf("--restart-condition", *flags.restartCondition,
                                {"any", "on-failure", "none"});
        !valid) {
      return valid;
    }
    restart.condition = *flags.restartCondition;
  }
  auto millis = [](const char* flag) {
    return [flag](const std::string& text) { return parseMillis(flag, text); };
  };
  auto count = [](const char* flag, std::int64_t min) {
    return [flag, min](const std::string& text) {
      return parseWholeNumber(flag, text, min, kMaxCount);
    };
  };
  for (auto status :
       {setIfGiven(flags.restartDelay, restart.delayMs, millis("--restart-delay")),
        setIfGiven(flags.restartMaxAttempts, restart.maxAttempts,
                   count("--restart-max-attempts", 0)),
        setIfGiven(flags.restartWindow, restart.windowMs, millis("--restart-window")),
        setIfGiven(flags.stopGracePeriod, spec.stopGracePeriodMs, millis("--stop-grace-period")),
        setIfGiven(flags.updateParallelism, spec.updateConfig.parallelism,
                   count("--update-parallelism", 0)),
        setIfGiven(flags.updateDelay, spec.updateConfig.delayMs, millis("--update-delay"))}) {
    if (!status) {
      return status;
    }
  }
  if (flags.updateOrder) {
    if (auto valid =
            checkOneOf("--update-order", *flags.updateOrder, {"stop-first", "start-first"});
        !valid) {
      return valid;
    }
    spec.updateConfig.order = *flags.updateOrder;
  }

  if (!flags.healthCmd && !anyHealthOption(flags)) {
    return {};
  }
  std::optional<api::HealthCheck> check = spec.healthCheck;
  if (flags.healthCmd) {
    if (flags.healthCmd->empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--health-cmd \"\" is not valid: give a shell command, e.g. "
                    "--health-cmd 'wget -q -O- http://localhost/'");
    }
    if (!check) {
      check.emplace();
    }
    check->command = {"/bin/sh", "-c", *flags.healthCmd};
  }
  if (!check) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} needs a health check to change: give --health-cmd too",
                  firstHealthOption(flags));
  }
  auto positive = [](const char* flag) {
    return [flag](const std::string& text) { return parsePositiveMillis(flag, text); };
  };
  for (auto status :
       {setIfGiven(flags.healthInterval, check->intervalMs, positive("--health-interval")),
        setIfGiven(flags.healthTimeout, check->timeoutMs, positive("--health-timeout")),
        setIfGiven(flags.healthRetries, check->retries, count("--health-retries", 1)),
        setIfGiven(flags.healthStartPeriod, check->startPeriodMs,
                   millis("--health-start-period"))}) {
    if (!status) {
      return status;
    }
  }
  spec.healthCheck = std::move(check);
  return {};
}

// Adds KEY=VALUE entries to `labels`, replacing a key's value.
Status addLabels(const std::string& flag, const std::vector<std::string>& values,
                 api::Labels& labels) {
  for (const auto& value : values) {
    std::string key = keyOf(value);
    if (key.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "{} \"{}\" is not valid: use KEY=VALUE with a non-empty KEY", flag, value);
    }
    auto equals = value.find('=');
    labels[key] = equals == std::string::npos ? "" : value.substr(equals + 1);
  }
  return {};
}

// Sets or replaces KEY's entry, keeping the order of the others.
void setEnv(std::vector<std::string>& env, const std::string& entry) {
  std::string key = keyOf(entry);
  auto existing = std::find_if(env.begin(), env.end(),
                               [&](const std::string& other) { return keyOf(other) == key; });
  if (existing == env.end()) {
    env.push_back(entry);
  } else {
    *existing = entry;
  }
}

std::string withoutSpaces(std::string text) {
  std::erase(text, ' ');
  return text;
}

// What the service has, for a --*-rm that matched nothing: "a, b" or "none".
std::string listOrNone(const std::vector<std::string>& items) {
  return items.empty() ? std::string("none") : fmt::format("{}", fmt::join(items, ", "));
}

// The index in spec.networks of the network `reference` names: the target as the spec
// has it, or the name or ID it resolved to (service.attachments, same order).
std::optional<std::size_t> findNetwork(const api::Service& service,
                                       const std::vector<api::ServiceNetworkSpec>& networks,
                                       const std::string& reference) {
  for (std::size_t i = 0; i < networks.size(); ++i) {
    if (networks[i].target == reference) {
      return i;
    }
    // Attachments follow spec.networks only while the spec is the service's own.
    if (i < service.attachments.size() && networks.size() == service.spec.networks.size() &&
        (service.attachments[i].networkName == reference ||
         service.attachments[i].networkId == reference)) {
      return i;
    }
  }
  return std::nullopt;
}

Status removeNetworks(const api::Service& service, const std::vector<std::string>& references,
                      std::vector<api::ServiceNetworkSpec>& networks) {
  std::vector<bool> removed(networks.size(), false);
  for (const auto& reference : references) {
    auto index = findNetwork(service, networks, reference);
    if (!index) {
      std::vector<std::string> names;
      for (const auto& network : networks) {
        names.push_back(network.target);
      }
      return errorf(ErrorKind::InvalidArgument,
                    "--network-rm \"{}\" is not valid: the service is not on that network (its "
                    "networks: {})",
                    reference, listOrNone(names));
    }
    removed[*index] = true;
  }
  std::vector<api::ServiceNetworkSpec> kept;
  for (std::size_t i = 0; i < networks.size(); ++i) {
    if (!removed[i]) {
      kept.push_back(networks[i]);
    }
  }
  networks = std::move(kept);
  return {};
}

}  // namespace

Result<std::int64_t> parseReplicas(const std::string& flag, const std::string& value) {
  return parseWholeNumber(flag, value, 0, kMaxReplicas);
}

Result<api::ServiceNetworkSpec> parseNetworkFlag(const std::string& flag,
                                                 const std::string& value) {
  auto invalid = [&](std::string_view why) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} \"{}\" is not valid: {}; use NET, NET,alias=A or name=NET,alias=A,alias=B",
                  flag, value, why);
  };
  api::ServiceNetworkSpec network;
  std::size_t start = 0;
  bool first = true;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    std::string part =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? value.size() + 1 : comma + 1;
    auto equals = part.find('=');
    if (equals == std::string::npos) {
      if (!first) {
        return invalid(fmt::format("\"{}\" is not key=value", part));
      }
      network.target = part;
    } else {
      std::string key = part.substr(0, equals);
      std::string item = part.substr(equals + 1);
      if (key == "name" || key == "target") {
        if (!network.target.empty()) {
          return invalid("it names the network twice");
        }
        network.target = item;
      } else if (key == "alias") {
        if (item.empty()) {
          return invalid("an alias is empty");
        }
        network.aliases.push_back(item);
      } else {
        return invalid(fmt::format("unknown key \"{}\" (known: name, alias)", key));
      }
    }
    first = false;
  }
  if (network.target.empty()) {
    return invalid("no network named");
  }
  return network;
}

Result<std::pair<std::string, std::int64_t>> parseScaleArgument(const std::string& argument) {
  auto equals = argument.find('=');
  if (equals == std::string::npos || equals == 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "\"{}\" is not valid: use SERVICE=REPLICAS, e.g. web=3", argument);
  }
  auto replicas = parseReplicas(fmt::format("the replica count of {}", argument.substr(0, equals)),
                                argument.substr(equals + 1));
  if (!replicas) {
    return std::unexpected(replicas.error());
  }
  return std::pair{argument.substr(0, equals), *replicas};
}

Result<api::Labels> parseLabelFlags(const std::string& flag,
                                    const std::vector<std::string>& values) {
  api::Labels labels;
  if (auto added = addLabels(flag, values, labels); !added) {
    return std::unexpected(added.error());
  }
  return labels;
}

Result<api::ServiceSpec> specFromCreateFlags(const ServiceCreateFlags& flags) {
  api::ServiceSpec spec;
  if (flags.name.empty()) {
    return errorf(ErrorKind::InvalidArgument, "--name \"\" is not valid: give the service a name");
  }
  spec.name = flags.name;
  if (flags.mode) {
    if (auto valid = checkOneOf("--mode", *flags.mode, {"replicated", "global"}); !valid) {
      return std::unexpected(valid.error());
    }
    spec.mode = *flags.mode;
  }
  if (flags.replicas) {
    if (spec.mode == "global") {
      return errorf(ErrorKind::InvalidArgument,
                    "--replicas \"{}\" is not valid with --mode global: a global service runs "
                    "one task per eligible node",
                    *flags.replicas);
    }
    auto replicas = parseReplicas("--replicas", *flags.replicas);
    if (!replicas) {
      return std::unexpected(replicas.error());
    }
    spec.replicas = *replicas;
  }
  if (spec.mode == "global") {
    spec.replicas = 0;
  }
  for (const auto& value : flags.networks) {
    auto network = parseNetworkFlag("--network", value);
    if (!network) {
      return std::unexpected(network.error());
    }
    spec.networks.push_back(std::move(*network));
  }
  for (const auto& entry : flags.env) {
    if (auto valid = checkEnvEntry("--env", entry); !valid) {
      return std::unexpected(valid.error());
    }
    setEnv(spec.env, entry);
  }
  spec.constraints = flags.constraints;
  if (auto added = addLabels("--label", flags.labels, spec.labels); !added) {
    return std::unexpected(added.error());
  }
  for (const auto& value : flags.publish) {
    auto ports = parsePublishFlag("--publish", value);
    if (!ports) {
      return std::unexpected(ports.error());
    }
    spec.ports.insert(spec.ports.end(), ports->begin(), ports->end());
  }
  if (auto applied = applySpecFlags(flags.spec, spec); !applied) {
    return std::unexpected(applied.error());
  }
  auto container = containerSpecFromFlags(flags.container);
  if (!container) {
    return std::unexpected(container.error());
  }
  spec.container = std::move(*container);
  if (flags.command.empty() && spec.container.image.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "no image and no command: give --image IMAGE, or a command after --, e.g. "
                  "`overmesh service create --name web --image nginx:1.25` or "
                  "`overmesh service create --name web -- httpd -f -p 80`");
  }
  if (!flags.command.empty() && flags.command.front().empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "the command after -- is not valid: its first word is empty");
  }
  spec.command = flags.command;
  return spec;
}

Result<api::ServiceSpec> applyUpdateFlags(const api::Service& service,
                                          const ServiceUpdateFlags& flags) {
  api::ServiceSpec spec = service.spec;
  if (flags.replicas) {
    if (spec.mode == "global") {
      return errorf(ErrorKind::InvalidArgument,
                    "--replicas \"{}\" is not valid: service {} is global (one task per "
                    "eligible node)",
                    *flags.replicas, spec.name);
    }
    auto replicas = parseReplicas("--replicas", *flags.replicas);
    if (!replicas) {
      return std::unexpected(replicas.error());
    }
    spec.replicas = *replicas;
  }

  for (const auto& key : flags.envRm) {
    std::string wanted = keyOf(key);
    auto removed =
        std::erase_if(spec.env, [&](const std::string& entry) { return keyOf(entry) == wanted; });
    if (removed == 0) {
      std::vector<std::string> keys;
      for (const auto& entry : spec.env) {
        keys.push_back(keyOf(entry));
      }
      return errorf(ErrorKind::InvalidArgument,
                    "--env-rm \"{}\" is not valid: the service has no such variable (it has: {})",
                    key, listOrNone(keys));
    }
  }
  for (const auto& entry : flags.envAdd) {
    if (auto valid = checkEnvEntry("--env-add", entry); !valid) {
      return std::unexpected(valid.error());
    }
    setEnv(spec.env, entry);
  }

  for (const auto& expression : flags.constraintRm) {
    auto removed = std::erase_if(spec.constraints, [&](const std::string& constraint) {
      return withoutSpaces(constraint) == withoutSpaces(expression);
    });
    if (removed == 0) {
      return errorf(ErrorKind::InvalidArgument,
                    "--constraint-rm \"{}\" is not valid: the service has no such constraint "
                    "(it has: {})",
                    expression, listOrNone(spec.constraints));
    }
  }
  for (const auto& expression : flags.constraintAdd) {
    bool present = std::any_of(spec.constraints.begin(), spec.constraints.end(),
                               [&](const std::string& constraint) {
                                 return withoutSpaces(constraint) == withoutSpaces(expression);
                               });
    if (!present) {
      spec.constraints.push_back(expression);
    }
  }

  if (auto removed = removeNetworks(service, flags.networkRm, spec.networks); !removed) {
    return std::unexpected(removed.error());
  }
  for (const auto& value : flags.networkAdd) {
    auto network = parseNetworkFlag("--network-add", value);
    if (!network) {
      return std::unexpected(network.error());
    }
    if (findNetwork(service, spec.networks, network->target)) {
      return errorf(ErrorKind::InvalidArgument,
                    "--network-add \"{}\" is not valid: service {} is already on network {}", value,
                    spec.name, network->target);
    }
    spec.networks.push_back(std::move(*network));
  }

  auto ports =
      editPublishedPorts(spec.name, std::move(spec.ports), flags.publishRm, flags.publishAdd);
  if (!ports) {
    return std::unexpected(ports.error());
  }
  spec.ports = std::move(*ports);

  for (const auto& key : flags.labelRm) {
    if (spec.labels.erase(key) == 0) {
      std::vector<std::string> keys;
      for (const auto& [name, value] : spec.labels) {
        keys.push_back(name);
      }
      return errorf(ErrorKind::InvalidArgument,
                    "--label-rm \"{}\" is not valid: the service has no such label (it has: {})",
                    key, listOrNone(keys));
    }
  }
  if (auto added = addLabels("--label-add", flags.labelAdd, spec.labels); !added) {
    return std::unexpected(added.error());
  }

  if (flags.noHealthcheck) {
    if (flags.spec.healthCmd || anyHealthOption(flags.spec)) {
      return errorf(ErrorKind::InvalidArgument,
                    "--no-healthcheck conflicts with {}: give one or the other",
                    firstHealthOption(flags.spec));
    }
    spec.healthCheck.reset();
  }
  if (auto applied = applySpecFlags(flags.spec, spec); !applied) {
    return std::unexpected(applied.error());
  }
  auto container = applyContainerUpdateFlags(spec.container, flags.container);
  if (!container) {
    return std::unexpected(container.error());
  }
  spec.container = std::move(*container);
  if (!flags.command.empty()) {
    if (flags.command.front().empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "the command after -- is not valid: its first word is empty");
    }
    spec.command = flags.command;
  }
  return spec;
}

}  // namespace overmesh::cli
