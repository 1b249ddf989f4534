#include "manager/service_validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "common/quote.h"
#include "manager/container_validation.h"
#include "manager/network_rules.h"
#include "manager/object_lookup.h"
#include "manager/published_ports.h"
#include "orchestrator/constraints.h"

namespace overmesh::manager {
namespace {

bool isAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// A duration field, in milliseconds, that must be >= 0 (or > 0 when `positive`).
Status checkDuration(std::string_view flag, std::int64_t valueMs, bool positive) {
  if (valueMs < 0 || (positive && valueMs == 0)) {
    return errorf(ErrorKind::InvalidArgument, "{} {}ms is not valid: give a duration {} 0", flag,
                  valueMs, positive ? ">" : ">=");
  }
  return {};
}

Status checkEnv(const std::vector<std::string>& env) {
  for (const auto& entry : env) {
    auto equals = entry.find('=');
    std::string_view key = std::string_view(entry).substr(0, equals);
    if (equals == std::string::npos || !isValidEnvKey(key)) {
      return errorf(ErrorKind::InvalidArgument,
                    "--env {} is not valid: give KEY=VALUE where KEY is a letter or '_' "
                    "followed by letters, digits or '_'",
                    quote(entry));
    }
  }
  return {};
}

Status checkNetworkEntries(const std::vector<api::ServiceNetworkSpec>& networks) {
  for (const auto& network : networks) {
    if (network.target.empty()) {
      return errorf(ErrorKind::InvalidArgument,
                    "--network needs a network name or ID, e.g. --network web_net,alias=web");
    }
    for (const auto& alias : network.aliases) {
      if (!isAliasName(alias)) {
        return errorf(ErrorKind::InvalidArgument,
                      "--network {} alias {} is not valid: an alias is a DNS name of up to 253 "
                      "characters, dot-separated labels of 1 to 63 letters, digits, '-' and "
                      "'_' (as Docker allows: a compose key like my_db is an alias), not "
                      "starting or ending with '-'",
                      printable(network.target, kQuotedMax), quote(alias));
      }
    }
  }
  return {};
}

Status checkRestartPolicy(const api::RestartPolicy& policy) {
  if (policy.condition != "any" && policy.condition != "on-failure" && policy.condition != "none") {
    return errorf(ErrorKind::InvalidArgument,
                  "--restart-condition {} is not valid: use any, on-failure or none",
                  quote(policy.condition));
  }
  if (auto valid = checkDuration("--restart-delay", policy.delayMs, false); !valid) {
    return valid;
  }
  if (policy.maxAttempts < 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "--restart-max-attempts {} is not valid: give 0 (no limit) or more",
                  policy.maxAttempts);
  }
  return checkDuration("--restart-window", policy.windowMs, false);
}

Status checkHealthCheck(const api::HealthCheck& check) {
  if (check.command.empty() || check.command.front().empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--health-cmd is empty: give the command that tells whether the task is "
                  "healthy, e.g. --health-cmd 'wget -q -O- localhost/health'");
  }
  if (auto valid = checkDuration("--health-interval", check.intervalMs, true); !valid) {
    return valid;
  }
  if (auto valid = checkDuration("--health-timeout", check.timeoutMs, true); !valid) {
    return valid;
  }
  if (check.retries < 1) {
    return errorf(ErrorKind::InvalidArgument, "--health-retries {} is not valid: give 1 or more",
                  check.retries);
  }
  return checkDuration("--health-start-period", check.startPeriodMs, false);
}

Status checkUpdateConfig(const api::UpdateConfig& config) {
  if (config.parallelism < 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "--update-parallelism {} is not valid: give 0 (all at once) or more",
                  config.parallelism);
  }
  if (auto valid = checkDuration("--update-delay", config.delayMs, false); !valid) {
    return valid;
  }
  if (config.order != "stop-first" && config.order != "start-first") {
    return errorf(ErrorKind::InvalidArgument,
                  "--update-order {} is not valid: use stop-first or start-first",
                  quote(config.order));
  }
  return {};
}

}  // namespace

bool isValidEnvKey(std::string_view key) {
  if (key.empty() ||
      !(std::isalpha(static_cast<unsigned char>(key.front())) || key.front() == '_')) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) { return isAlnum(c) || c == '_'; });
}

bool isDnsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  return std::all_of(label.begin(), label.end(), [](char c) { return isAlnum(c) || c == '-'; });
}

bool isHostName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostname) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    if (!isDnsLabel(name.substr(start, dot == std::string_view::npos ? name.npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

bool isAliasName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    std::size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? name.npos
                                                                              : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_'; })) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

Status validateLabelKey(std::string_view flag, const std::string& key) {
  bool valid = !key.empty() && key.size() <= 128 && isAlnum(key.front()) &&
               std::all_of(key.begin(), key.end(), [](char c) {
                 return isAlnum(c) || c == '.' || c == '_' || c == '-' || c == '/';
               });
  if (!valid) {
    return errorf(ErrorKind::InvalidArgument,
                  "{} key {} is not valid: use 1 to 128 letters, digits, '.', '_', '-' and '/', "
                  "starting with a letter or digit",
                  flag, quote(key));
  }
  return {};
}

Status validateEnv(const std::vector<std::string>& env) { return checkEnv(env); }

Status validateServiceSpec(const api::ServiceSpec& spec) {
  if (auto valid = validateObjectName("service", spec.name); !valid) {
    return std::unexpected(valid.error().withContext("--name"));
  }
  if (spec.mode != "replicated" && spec.mode != "global") {
    return errorf(ErrorKind::InvalidArgument, "--mode {} is not valid: use replicated or global",
                  quote(spec.mode));
  }
  if (spec.mode == "replicated" && (spec.replicas < 0 || spec.replicas > kMaxReplicas)) {
    return errorf(ErrorKind::InvalidArgument,
                  "--replicas {} is not valid: give a whole number from 0 to {}", spec.replicas,
                  kMaxReplicas);
  }
  // 1 is the spec's default, so a global spec that never set it still passes.
  if (spec.mode == "global" && spec.replicas != 1 && spec.replicas != 0) {
    return errorf(ErrorKind::InvalidArgument,
                  "--replicas {} cannot be used with --mode global: a global service runs one "
                  "task on every eligible node",
                  spec.replicas);
  }
  // With an image the command is optional (the image's CMD runs); given, it has a
  // program. validateContainerSpec says which of the two is missing.
  if (!spec.command.empty() && spec.command.front().empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "the command after -- is not valid: its first word is empty, e.g. `overmesh "
                  "service create --name web --network NET -- httpd -f -p 80`");
  }
  if (auto container = validateContainerSpec(spec.container, !spec.command.empty()); !container) {
    return std::unexpected(container.error());
  }
  if (auto valid = checkEnv(spec.env); !valid) {
    return valid;
  }
  if (auto valid = checkNetworkEntries(spec.networks); !valid) {
    return valid;
  }
  if (spec.endpointMode != "vip" && spec.endpointMode != "dnsrr") {
    return errorf(ErrorKind::InvalidArgument, "--endpoint-mode {} is not valid: use vip or dnsrr",
                  quote(spec.endpointMode));
  }
  if (auto constraints = orchestrator::parseConstraints(spec.constraints); !constraints) {
    return std::unexpected(constraints.error().withContext("--constraint"));
  }
  if (auto valid = checkRestartPolicy(spec.restartPolicy); !valid) {
    return valid;
  }
  if (auto valid = checkDuration("--stop-grace-period", spec.stopGracePeriodMs, false); !valid) {
    return valid;
  }
  if (spec.healthCheck) {
    if (auto valid = checkHealthCheck(*spec.healthCheck); !valid) {
      return valid;
    }
  }
  if (auto valid = checkUpdateConfig(spec.updateConfig); !valid) {
    return valid;
  }
  for (const auto& [key, value] : spec.labels) {
    if (auto valid = validateLabelKey("--label", key); !valid) {
      return valid;
    }
  }
  return validatePorts(spec.ports);
}

Result<std::vector<api::ServiceAttachment>> resolveServiceNetworks(
    const std::vector<api::ServiceNetworkSpec>& requested,
    const std::vector<api::Network>& networks) {
  std::vector<NamedObject> named;
  named.reserve(networks.size());
  for (const auto& network : networks) {
    named.push_back({network.id, network.name});
  }
  std::vector<api::ServiceAttachment> attachments;
  for (const auto& entry : requested) {
    auto index = findByReference("network", named, entry.target);
    if (!index) {
      return std::unexpected(index.error().withContext("--network"));
    }
    const api::Network& network = networks[*index];
    if (network.driver != "overlay") {
      return errorf(ErrorKind::InvalidArgument,
                    "--network {} is a {} network: services join overlay networks only",
                    network.name, network.driver);
    }
    if (network.ingress) {
      return errorf(ErrorKind::InvalidArgument,
                    "--network {} is the routing-mesh ingress network, which no service names: "
                    "tasks join it by publishing a port (--publish 8080:80)",
                    network.name);
    }
    bool twice = std::any_of(attachments.begin(), attachments.end(),
                             [&](const auto& a) { return a.networkId == network.id; });
    if (twice) {
      return errorf(ErrorKind::InvalidArgument,
                    "--network {} is given twice: give each network once (with all its aliases)",
                    network.name);
    }
    attachments.push_back({network.id, network.name, entry.aliases});
  }
  return attachments;
}

}  // namespace overmesh::manager
