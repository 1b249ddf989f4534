#include "stack/convert.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/object_name.h"
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

// Docker's conversion of `restart:` (used only when deploy.restart_policy is absent):
// always|unless-stopped → any; on-failure[:N] → on-failure with N attempts; "no" (and
// no `restart:`) gives no policy at all, so Swarm's default applies (condition any): a
// service's tasks are restarted whatever the file says, as on Docker Swarm. The schema
// has refused any other value and an N that is not a whole number ≥ 0.
api::RestartPolicy restartFromRestartKey(const compose::Service& service) {
  api::RestartPolicy policy;
  const std::string_view restart = service.restart;
  constexpr std::string_view kOnFailure = "on-failure";
  if (!restart.starts_with(kOnFailure)) {
    return policy;
  }
  policy.condition = "on-failure";
  if (restart.size() > kOnFailure.size() + 1 && restart[kOnFailure.size()] == ':') {
    std::string_view count = restart.substr(kOnFailure.size() + 1);
    std::int64_t attempts = 0;
    auto [end, error] = std::from_chars(count.data(), count.data() + count.size(), attempts);
    if (error == std::errc() && end == count.data() + count.size() && attempts >= 0) {
      policy.maxAttempts = attempts;
    }
  }
  return policy;
}

api::RestartPolicy restartPolicyOf(const compose::Service& service) {
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

// CMD → its argv; CMD-SHELL → /bin/sh -c; NONE or `disable` → no check. An empty test
// (a healthcheck that gives only timings, which would refine the image's HEALTHCHECK on
// Docker) → no check either: overmesh does not run an image's HEALTHCHECK, and the schema
// has warned about it. The schema has refused every other form of test.
std::optional<api::HealthCheck> healthCheckOf(const compose::Service& service) {
  if (!service.healthcheck || service.healthcheck->disable) {
    return std::nullopt;
  }
  const compose::Healthcheck& entry = *service.healthcheck;
  if (entry.test.empty() || entry.test.front() == "NONE") {
    return std::nullopt;
  }
  api::HealthCheck check;
  if (entry.test.front() == "CMD-SHELL" && entry.test.size() >= 2) {
    check.command = {"/bin/sh", "-c", entry.test[1]};
  } else {
    check.command.assign(entry.test.begin() + 1, entry.test.end());  // CMD, program, args…
  }
  check.intervalMs = entry.intervalMs.value_or(check.intervalMs);
  check.timeoutMs = entry.timeoutMs.value_or(check.timeoutMs);
  check.startPeriodMs = entry.startPeriodMs.value_or(check.startPeriodMs);
  check.retries = entry.retries.value_or(check.retries);
  return check;
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
    // convertNetworks made one StackNetwork for every used key.
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

// "web.yml:12: services.web": where the service was declared, for the manager's refusals.
std::string serviceSource(const compose::Service& service) {
  return fmt::format("{}services.{}", locationPrefix(service.mark), printable(service.key));
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
  auto mounts =
      convertVolumes(service, project, stack, options.workingDirectory, options.homeDirectory);
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
    // The schema has refused replicas with mode global.
    spec.replicas = deploy.replicas.value_or(1);
    spec.endpointMode = deploy.endpointMode.value_or(spec.endpointMode);
    spec.constraints = deploy.constraints;
    spec.labels = api::Labels(deploy.labels.begin(), deploy.labels.end());
  }
  spec.labels[api::kStackNamespaceLabel] = stack;
  if (!service.image.empty()) {
    spec.labels[api::kStackImageLabel] = service.image;
  }
  spec.restartPolicy = restartPolicyOf(service);
  spec.updateConfig = updateConfigOf(service);
  spec.stopGracePeriodMs = service.stopGracePeriodMs.value_or(spec.stopGracePeriodMs);
  spec.healthCheck = healthCheckOf(service);
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
    auto entries = serviceNetworkEntries(service);
    for (const auto& entry : entries) {
      if (std::find(usedKeys.begin(), usedKeys.end(), entry.key) == usedKeys.end()) {
        usedKeys.push_back(entry.key);
      }
    }
    entriesOfService.push_back(std::move(entries));
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
    request.serviceSources[spec->name] = serviceSource(project.services[i]);
    request.services.push_back(std::move(*spec));
  }
  request.networks = std::move(*networks);
  warnings.insert(warnings.end(), found.begin(), found.end());
  return request;
}

}  // namespace overmesh::stack
