#include "stack/convert.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/quote.h"
#include "stack/stack_errors.h"
#include "stack/stack_networks.h"
#include "stack/stack_volumes.h"

namespace overmesh::stack {
namespace {

// "<stack>_<key>" must stay a valid service name (63 characters): the shortest key is one
// character, so a stack name may use at most 61.
constexpr std::size_t kMaxStackName = 61;

// The compose key that sets each image-only container field, by the flag
// api::firstImageOnlyFlag names.
std::string_view composeKeyOfFlag(std::string_view flag) {
  if (flag == "--entrypoint") {
    return "entrypoint";
  }
  if (flag == "--workdir") {
    return "working_dir";
  }
  if (flag == "--user") {
    return "user";
  }
  if (flag == "--mount") {
    return "volumes";
  }
  if (flag == "--read-only") {
    return "read_only";
  }
  if (flag == "--init") {
    return "init";
  }
  if (flag == "--stop-signal") {
    return "stop_signal";
  }
  return flag;
}

// Docker's conversion of `restart:` (used only when deploy.restart_policy is absent).
Result<api::RestartPolicy> restartFromRestartKey(const compose::Service& service) {
  api::RestartPolicy policy;
  const std::string& restart = service.restart;
  if (restart.empty() || restart == "always" || restart == "unless-stopped") {
    return policy;
  }
  if (restart == "no") {
    policy.condition = "none";
    return policy;
  }
  if (restart == "on-failure") {
    policy.condition = "on-failure";
    return policy;
  }
  if (restart.starts_with("on-failure:")) {
    std::string_view count =
        std::string_view(restart).substr(std::string_view("on-failure:").size());
    std::int64_t attempts = -1;
    auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), attempts);
    if (error == std::errc() && end == count.data() + count.size() && attempts >= 0) {
      policy.condition = "on-failure";
      policy.maxAttempts = attempts;
      return policy;
    }
  }
  return convertError(service.mark, fmt::format("services.{}.restart", service.key),
                      "{} is not valid: use no, always, on-failure, on-failure:N or "
                      "unless-stopped",
                      quote(restart));
}

Result<api::RestartPolicy> restartPolicyOf(const compose::Service& service) {
  if (!service.deploy || !service.deploy->restartPolicy) {
    return restartFromRestartKey(service);
  }
  const compose::RestartPolicyEntry& entry = *service.deploy->restartPolicy;
  api::RestartPolicy policy;
  policy.condition = entry.condition.value_or(policy.condition);
  policy.delayMs = entry.delayMs.value_or(policy.delayMs);
  policy.maxAttempts = entry.maxAttempts.value_or(policy.maxAttempts);
  policy.windowMs = entry.windowMs.value_or(policy.windowMs);
  return policy;
}

api::UpdateConfig updateConfigOf(const compose::Service& service) {
  api::UpdateConfig config;
  if (service.deploy && service.deploy->updateConfig) {
    const compose::UpdateConfigEntry& entry = *service.deploy->updateConfig;
    config.parallelism = entry.parallelism.value_or(config.parallelism);
    config.delayMs = entry.delayMs.value_or(config.delayMs);
    config.order = entry.order.value_or(config.order);
  }
  return config;
}

// CMD → its argv; CMD-SHELL → /bin/sh -c; NONE or `disable` → no check.
Result<std::optional<api::HealthCheck>> healthCheckOf(const compose::Service& service) {
  if (!service.healthcheck || service.healthcheck->disable) {
    return std::optional<api::HealthCheck>();
  }
  const compose::Healthcheck& entry = *service.healthcheck;
  const std::string path = fmt::format("services.{}.healthcheck.test", service.key);
  if (!entry.test.empty() && entry.test.front() == "NONE") {
    return std::optional<api::HealthCheck>();
  }
  api::HealthCheck check;
  if (entry.test.empty()) {
    return convertError(entry.mark, path,
                        "is required: overmesh does not read the image's HEALTHCHECK, so give "
                        "the check, e.g. test: [\"CMD\", \"wget\", \"-q\", \"-O-\", "
                        "\"localhost/health\"]");
  }
  if (entry.test.front() == "CMD" && entry.test.size() >= 2) {
    check.command.assign(entry.test.begin() + 1, entry.test.end());
  } else if (entry.test.front() == "CMD-SHELL" && entry.test.size() == 2) {
    check.command = {"/bin/sh", "-c", entry.test[1]};
  } else {
    return convertError(entry.mark, path,
                        "{} is not valid: use [\"CMD\", program, args…], [\"CMD-SHELL\", "
                        "\"command\"], a string (run by /bin/sh -c) or [\"NONE\"]",
                        quote(fmt::format("{}", fmt::join(entry.test, " "))));
  }
  check.intervalMs = entry.intervalMs.value_or(check.intervalMs);
  check.timeoutMs = entry.timeoutMs.value_or(check.timeoutMs);
  check.startPeriodMs = entry.startPeriodMs.value_or(check.startPeriodMs);
  check.retries = entry.retries.value_or(check.retries);
  return std::optional<api::HealthCheck>(check);
}

std::vector<api::PortConfig> portsOf(const compose::Service& service,
                                     std::vector<std::string>& warnings) {
  std::vector<api::PortConfig> ports;
  for (std::size_t i = 0; i < service.ports.size(); ++i) {
    const compose::PortEntry& entry = service.ports[i];
    if (!entry.hostIp.empty()) {
      warnings.push_back(fmt::format(
          "{}services.{}.ports[{}]: the host IP {} is ignored: a published port listens on "
          "every node address (mode ingress) or every address of the task's node (mode host)",
          locationPrefix(entry.mark), service.key, i, printable(entry.hostIp)));
    }
    api::PortConfig port;
    port.protocol = entry.protocol;
    port.targetPort = entry.target;
    port.publishedPort = entry.published;
    port.publishMode = entry.mode;
    ports.push_back(port);
  }
  return ports;
}

// One service's networks: each key's StackNetwork name, alias <key> first, then the
// file's aliases, each once.
std::vector<api::ServiceNetworkSpec> serviceNetworksOf(
    const std::vector<compose::ServiceNetworkEntry>& entries,
    const std::vector<api::StackNetwork>& networks, const std::string& serviceKey) {
  std::vector<api::ServiceNetworkSpec> result;
  for (const auto& entry : entries) {
    auto network = std::find_if(networks.begin(), networks.end(),
                                [&](const api::StackNetwork& n) { return n.key == entry.key; });
    api::ServiceNetworkSpec spec;
    spec.target = network->name;
    spec.aliases.push_back(serviceKey);
    for (const auto& alias : entry.aliases) {
      if (std::find(spec.aliases.begin(), spec.aliases.end(), alias) == spec.aliases.end()) {
        spec.aliases.push_back(alias);
      }
    }
    result.push_back(std::move(spec));
  }
  return result;
}

Result<api::ContainerSpec> containerOf(const compose::Service& service,
                                       const compose::Project& project, const std::string& stack,
                                       const ConvertOptions& options) {
  api::ContainerSpec container;
  container.image = service.image;
  container.entrypoint = service.entrypoint.value_or(std::vector<std::string>{});
  container.workdir = service.workingDir;
  container.user = service.user;
  container.hostname = service.hostname;
  container.init = service.init.value_or(false);
  container.readOnly = service.readOnly.value_or(false);
  container.stopSignal = service.stopSignal;
  container.labels = service.labels;
  container.labels[api::kStackNamespaceLabel] = stack;
  auto mounts = convertVolumes(service, project, stack, options.workingDirectory);
  if (!mounts) {
    return std::unexpected(mounts.error());
  }
  container.mounts = std::move(*mounts);
  if (container.image.empty()) {
    std::string_view flag = api::firstImageOnlyFlag(container);
    if (!flag.empty()) {
      std::string_view key = composeKeyOfFlag(flag);
      return convertError(service.mark, fmt::format("services.{}.{}", service.key, key),
                          "needs an image: a service without image: runs its command as a "
                          "process on the node's own filesystem, where {} cannot apply: add "
                          "image: or remove {}",
                          key, key);
    }
  }
  return container;
}

Result<api::ServiceSpec> convertService(const compose::Service& service,
                                        const compose::Project& project, const std::string& stack,
                                        const ConvertOptions& options,
                                        const std::vector<compose::ServiceNetworkEntry>& entries,
                                        const std::vector<api::StackNetwork>& networks,
                                        std::vector<std::string>& warnings) {
  const std::string path = "services." + service.key;
  api::ServiceSpec spec;
  spec.name = fmt::format("{}_{}", stack, service.key);
  if (!isValidObjectName(spec.name)) {
    return convertError(service.mark, path,
                        "the service name {} is not valid: use 1 to 63 letters, digits, '_', "
                        "'.' and '-' (a shorter stack name or service key)",
                        quote(spec.name));
  }
  if (service.image.empty() && (!service.command || service.command->empty())) {
    return convertError(service.mark, path,
                        "needs an image or a command: give image: (e.g. nginx:1.25), or "
                        "command: to run a process on the node");
  }
  spec.command = service.command.value_or(std::vector<std::string>{});
  for (const auto& [key, value] : service.environment) {
    spec.env.push_back(key + "=" + value);  // sorted by key: StringMap is ordered
  }
  if (service.deploy) {
    const compose::Deploy& deploy = *service.deploy;
    spec.mode = deploy.mode.value_or(spec.mode);
    if (spec.mode == "global" && deploy.replicas) {
      return convertError(deploy.mark, path + ".deploy.replicas",
                          "replicas can only be used with mode: replicated: a global service "
                          "runs one task on every eligible node");
    }
    spec.replicas = deploy.replicas.value_or(1);
    spec.endpointMode = deploy.endpointMode.value_or(spec.endpointMode);
    spec.constraints = deploy.constraints;
    spec.labels = api::Labels(deploy.labels.begin(), deploy.labels.end());
  }
  spec.labels[api::kStackNamespaceLabel] = stack;
  if (!service.image.empty()) {
    spec.labels[api::kStackImageLabel] = service.image;
  }
  auto restart = restartPolicyOf(service);
  if (!restart) {
    return std::unexpected(restart.error());
  }
  spec.restartPolicy = *restart;
  spec.updateConfig = updateConfigOf(service);
  spec.stopGracePeriodMs = service.stopGracePeriodMs.value_or(spec.stopGracePeriodMs);
  auto health = healthCheckOf(service);
  if (!health) {
    return std::unexpected(health.error());
  }
  spec.healthCheck = *health;
  spec.ports = portsOf(service, warnings);
  spec.networks = serviceNetworksOf(entries, networks, service.key);
  auto container = containerOf(service, project, stack, options);
  if (!container) {
    return std::unexpected(container.error());
  }
  spec.container = std::move(*container);
  return spec;
}

}  // namespace

Status validateStackName(const std::string& stack) {
  if (stack.empty()) {
    return errorf(ErrorKind::InvalidArgument,
                  "the stack name is empty: give a name such as web (letters, digits, '_', '.' "
                  "and '-')");
  }
  auto isSpace = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  if (isSpace(stack.front()) || isSpace(stack.back())) {
    return errorf(ErrorKind::InvalidArgument,
                  "invalid stack name {}: it starts or ends with white space", quote(stack));
  }
  if (stack.size() > kMaxStackName) {
    return errorf(ErrorKind::InvalidArgument,
                  "the stack name {} is {} characters long: at most {} are allowed, so that "
                  "<stack>_<service> stays within 63",
                  quote(stack), stack.size(), kMaxStackName);
  }
  if (!isValidObjectName(stack)) {
    return errorf(ErrorKind::InvalidArgument,
                  "invalid stack name {}: use letters, digits, '_', '.' and '-', starting with "
                  "a letter or digit",
                  quote(stack));
  }
  return {};
}

Result<api::StackDeployRequest> convertProject(const compose::Project& project,
                                               const std::string& stack,
                                               const ConvertOptions& options,
                                               std::vector<std::string>& warnings) {
  if (auto valid = validateStackName(stack); !valid) {
    return std::unexpected(valid.error());
  }
  if (options.resolveImage != "always" && options.resolveImage != "changed" &&
      options.resolveImage != "never") {
    return errorf(ErrorKind::InvalidArgument,
                  "--resolve-image {} is not valid: use always, changed or never",
                  quote(options.resolveImage));
  }
  // Each service's network entries, and the keys used, in the order first used.
  std::vector<std::vector<compose::ServiceNetworkEntry>> entriesOfService;
  std::vector<std::string> usedKeys;
  for (const auto& service : project.services) {
    auto entries = serviceNetworkEntries(service, project);
    if (!entries) {
      return std::unexpected(entries.error());
    }
    for (const auto& entry : *entries) {
      if (std::find(usedKeys.begin(), usedKeys.end(), entry.key) == usedKeys.end()) {
        usedKeys.push_back(entry.key);
      }
    }
    entriesOfService.push_back(std::move(*entries));
  }
  auto networks = convertNetworks(project, stack, usedKeys);
  if (!networks) {
    return std::unexpected(networks.error());
  }
  // Warnings are kept only when the whole conversion succeeds.
  std::vector<std::string> found;
  api::StackDeployRequest request;
  request.stack = stack;
  request.prune = options.prune;
  request.resolveImage = options.resolveImage;
  for (std::size_t i = 0; i < project.services.size(); ++i) {
    auto spec = convertService(project.services[i], project, stack, options, entriesOfService[i],
                               *networks, found);
    if (!spec) {
      return std::unexpected(spec.error());
    }
    request.services.push_back(std::move(*spec));
  }
  request.networks = std::move(*networks);
  warnings.insert(warnings.end(), found.begin(), found.end());
  return request;
}

}  // namespace overmesh::stack
