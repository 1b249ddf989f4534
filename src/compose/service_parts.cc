#include "compose/service_parts.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>

#include "common/quote.h"
#include "compose/schema_support.h"

namespace overmesh::compose {
namespace {

constexpr std::string_view kPortValid =
    "use \"TARGET\", \"PUBLISHED:TARGET\", \"IP:PUBLISHED:TARGET\" (ports or equal-sized "
    "ranges like 8000-8001, from 1 to 65535), optionally with /tcp or /udp";

struct PortRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::int64_t size() const { return last - first + 1; }
};

bool parsePortNumber(std::string_view text, std::int64_t& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size() && out >= 1 &&
         out <= 65535;
}

// "80" or "8000-8001" (first ≤ last).
bool parsePortRange(std::string_view text, PortRange& range) {
  std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!parsePortNumber(text, range.first)) {
      return false;
    }
    range.last = range.first;
    return true;
  }
  return parsePortNumber(text.substr(0, dash), range.first) &&
         parsePortNumber(text.substr(dash + 1), range.last) && range.first <= range.last;
}

// Appends the short-syntax entry `text` to `ports`.
Status parseShortPort(const Value& item, const std::string& path, std::vector<PortEntry>& ports) {
  std::string_view spec = item.text;
  std::string protocol = "tcp";
  if (std::size_t slash = spec.rfind('/'); slash != std::string_view::npos) {
    protocol = std::string(spec.substr(slash + 1));
    if (protocol != "tcp" && protocol != "udp") {
      return schemaError(item, path,
                         fmt::format("the protocol {} is not supported", quote(protocol)),
                         "use /tcp or /udp");
    }
    spec = spec.substr(0, slash);
  }
  std::string hostIp;
  if (spec.starts_with('[')) {
    std::size_t close = spec.find("]:");
    if (close == std::string_view::npos) {
      return schemaError(item, path, fmt::format("{} is not a port", quote(item.text)), kPortValid);
    }
    hostIp = std::string(spec.substr(1, close - 1));
    spec = spec.substr(close + 2);
    if (spec.find(':') == std::string_view::npos) {
      return schemaError(item, path, fmt::format("{} is not a port", quote(item.text)), kPortValid);
    }
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t colon = spec.find(':', start);
    parts.push_back(
        spec.substr(start, colon == std::string_view::npos ? spec.npos : colon - start));
    if (colon == std::string_view::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() > 3 || (!hostIp.empty() && parts.size() != 2)) {
    return schemaError(item, path, fmt::format("{} is not a port", quote(item.text)),
                       std::string(kPortValid) + " (an IPv6 address goes in brackets)");
  }
  if (parts.size() == 3) {
    hostIp = std::string(parts[0]);
    parts.erase(parts.begin());
    if (hostIp.empty()) {
      return schemaError(item, path, fmt::format("{} has an empty address", quote(item.text)),
                         kPortValid);
    }
  }
  PortRange target;
  if (!parsePortRange(parts.back(), target)) {
    return schemaError(item, path,
                       fmt::format("{} is not a port or a port range", quote(parts.back())),
                       kPortValid);
  }
  PortRange published;
  bool isPublished = parts.size() == 2 && !parts[0].empty();
  if (isPublished) {
    if (!parsePortRange(parts[0], published)) {
      return schemaError(
          item, path, fmt::format("{} is not a port or a port range", quote(parts[0])), kPortValid);
    }
    if (published.size() != target.size()) {
      return schemaError(item, path,
                         fmt::format("the published ports {} and the target ports {} differ "
                                     "in number",
                                     quote(parts[0]), quote(parts.back())),
                         "give ranges of the same size");
    }
  }
  if (ports.size() + static_cast<std::size_t>(target.size()) > kMaxServicePorts) {
    return schemaError(item, path, "too many ports",
                       fmt::format("a service publishes at most {} ports", kMaxServicePorts));
  }
  for (std::int64_t offset = 0; offset < target.size(); ++offset) {
    PortEntry entry;
    entry.target = target.first + offset;
    entry.published = isPublished ? published.first + offset : 0;
    entry.protocol = protocol;
    entry.hostIp = hostIp;
    entry.mark = item.mark;
    ports.push_back(std::move(entry));
  }
  return {};
}

constexpr std::array<std::string_view, 5> kLongPortKeys = {"host_ip", "mode", "protocol",
                                                           "published", "target"};
constexpr std::array<std::string_view, 2> kProtocols = {"tcp", "udp"};
constexpr std::array<std::string_view, 2> kPortModes = {"ingress", "host"};

Result<PortEntry> parseLongPort(const Value& item, const std::string& path) {
  if (auto checked = checkMapping(item, path, kLongPortKeys, "a port"); !checked) {
    return std::unexpected(checked.error());
  }
  PortEntry entry;
  entry.mark = item.mark;
  const Value* target = item.find("target");
  if (target == nullptr) {
    return schemaError(item, path, "no target", "give the container's port as target: (1-65535)");
  }
  auto targetPort = readWhole(*target, childPath(path, "target"), 1, 65535);
  if (!targetPort) {
    return std::unexpected(targetPort.error());
  }
  entry.target = *targetPort;
  if (const Value* published = item.find("published"); published && !published->isNull()) {
    auto port = readWhole(*published, childPath(path, "published"), 1, 65535);
    if (!port) {
      return std::unexpected(port.error());
    }
    entry.published = *port;
  }
  if (const Value* protocol = item.find("protocol"); protocol && !protocol->isNull()) {
    auto chosen = readChoice(*protocol, childPath(path, "protocol"), kProtocols);
    if (!chosen) {
      return std::unexpected(chosen.error());
    }
    entry.protocol = *chosen;
  }
  if (const Value* mode = item.find("mode"); mode && !mode->isNull()) {
    auto chosen = readChoice(*mode, childPath(path, "mode"), kPortModes);
    if (!chosen) {
      return std::unexpected(chosen.error());
    }
    entry.mode = *chosen;
  }
  if (const Value* hostIp = item.find("host_ip"); hostIp && !hostIp->isNull()) {
    auto text = readString(*hostIp, childPath(path, "host_ip"), "an IP address");
    if (!text) {
      return std::unexpected(text.error());
    }
    entry.hostIp = *text;
  }
  return entry;
}

constexpr std::string_view kVolumeValid =
    "use \"TARGET\", \"SOURCE:TARGET\" or \"SOURCE:TARGET:ro\" with an absolute TARGET; "
    "SOURCE is a path (starting with /, . or ~) or a volume name";

constexpr std::array<std::string_view, 8> kVolumeModes = {
    "cached", "consistent", "delegated", "nocopy", "ro", "rw", "z", "Z"};

Result<VolumeEntry> parseShortVolume(const Value& item, const std::string& path) {
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    std::size_t colon = item.text.find(':', start);
    parts.push_back(
        item.text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) {
      break;
    }
    start = colon + 1;
  }
  if (parts.size() > 3) {
    return schemaError(item, path, fmt::format("{} is not a volume", quote(item.text)),
                       kVolumeValid);
  }
  VolumeEntry entry;
  entry.mark = item.mark;
  if (parts.size() == 3) {
    std::string_view modes = parts[2];
    for (std::size_t start = 0; start <= modes.size();) {
      std::size_t comma = modes.find(',', start);
      std::string_view mode = modes.substr(start, comma == modes.npos ? modes.npos : comma - start);
      if (std::find(kVolumeModes.begin(), kVolumeModes.end(), mode) == kVolumeModes.end()) {
        return schemaError(item, path, fmt::format("the mode {} is not known", quote(mode)),
                           fmt::format("use {}", joinKeys(kVolumeModes)));
      }
      if (mode == "ro") {
        entry.readOnly = true;
      }
      if (comma == modes.npos) {
        break;
      }
      start = comma + 1;
    }
  }
  entry.target = parts.size() == 1 ? parts[0] : parts[1];
  if (!entry.target.starts_with('/')) {
    return schemaError(item, path,
                       fmt::format("the target {} is not an absolute path", quote(entry.target)),
                       kVolumeValid);
  }
  if (parts.size() == 1) {
    entry.type = "volume";
    return entry;
  }
  entry.source = parts[0];
  if (entry.source.empty()) {
    return schemaError(item, path, "the source is empty", kVolumeValid);
  }
  char first = entry.source.front();
  entry.type = (first == '/' || first == '.' || first == '~') ? "bind" : "volume";
  if (entry.type == "volume") {
    Value nameValue = item;
    nameValue.text = entry.source;
    if (auto named = checkName(nameValue, path, "volume"); !named) {
      return std::unexpected(named.error());
    }
  }
  return entry;
}

constexpr std::array<std::string_view, 8> kLongVolumeKeys = {
    "bind", "consistency", "read_only", "source", "target", "tmpfs", "type", "volume"};
constexpr std::array<std::string_view, 3> kVolumeTypes = {"bind", "volume", "tmpfs"};

Result<VolumeEntry> parseLongVolume(const Value& item, const std::string& path,
                                    const std::string& servicePath, IgnoredOptions& ignored) {
  if (auto checked = checkMapping(item, path, kLongVolumeKeys, "a volume"); !checked) {
    return std::unexpected(checked.error());
  }
  VolumeEntry entry;
  entry.mark = item.mark;
  const Value* type = item.find("type");
  if (type == nullptr) {
    return schemaError(item, path, "no type", "give type: bind, volume or tmpfs");
  }
  auto chosen = readChoice(*type, childPath(path, "type"), kVolumeTypes);
  if (!chosen) {
    return std::unexpected(chosen.error());
  }
  entry.type = *chosen;
  const Value* target = item.find("target");
  if (target == nullptr) {
    return schemaError(item, path, "no target", "give the absolute path in the container");
  }
  auto targetText = readString(*target, childPath(path, "target"), "an absolute path");
  if (!targetText) {
    return std::unexpected(targetText.error());
  }
  if (!targetText->starts_with('/')) {
    return schemaError(*target, childPath(path, "target"),
                       fmt::format("{} is not an absolute path", quote(*targetText)),
                       "use a path starting with /");
  }
  entry.target = *targetText;
  if (const Value* source = item.find("source"); source && !source->isNull()) {
    auto sourceText = readString(*source, childPath(path, "source"), "a path or a volume name");
    if (!sourceText) {
      return std::unexpected(sourceText.error());
    }
    entry.source = *sourceText;
    if (entry.type == "tmpfs") {
      return schemaError(*source, childPath(path, "source"), "a tmpfs has no source",
                         "leave source out");
    }
    if (entry.type == "volume") {
      if (auto named = checkName(*source, childPath(path, "source"), "volume"); !named) {
        return std::unexpected(named.error());
      }
    }
  }
  if (entry.type == "bind" && entry.source.empty()) {
    return schemaError(item, path, "a bind mount has no source",
                       "give source: the host path to mount");
  }
  if (const Value* readOnly = item.find("read_only"); readOnly && !readOnly->isNull()) {
    auto flag = readBool(*readOnly, childPath(path, "read_only"));
    if (!flag) {
      return std::unexpected(flag.error());
    }
    entry.readOnly = *flag;
  }
  for (std::string_view option : {"bind", "consistency", "tmpfs", "volume"}) {
    if (item.find(option) != nullptr) {
      ignored.notYet.push_back(
          fmt::format("{}.{} ({})", path.substr(servicePath.size() + 1), option, servicePath));
    }
  }
  return entry;
}

constexpr std::array<std::string_view, 3> kServiceNetworkKeys = {"aliases", "ipv4_address",
                                                                 "ipv6_address"};

constexpr std::array<std::string_view, 6> kHealthcheckKeys = {
    "disable", "interval", "retries", "start_period", "test", "timeout"};

constexpr std::array<std::string_view, 9> kDeployKeysAll = {
    "endpoint_mode",  "labels",          "mode",         "placement", "replicas", "resources",
    "restart_policy", "rollback_config", "update_config"};
constexpr std::array<std::string_view, 3> kPlacementKeys = {"constraints", "max_replicas_per_node",
                                                            "preferences"};
constexpr std::array<std::string_view, 4> kRestartPolicyKeys = {"condition", "delay",
                                                                "max_attempts", "window"};
constexpr std::array<std::string_view, 6> kUpdateConfigKeys = {
    "delay", "failure_action", "max_failure_ratio", "monitor", "order", "parallelism"};
constexpr std::array<std::string_view, 2> kDeployModes = {"replicated", "global"};
constexpr std::array<std::string_view, 2> kEndpointModes = {"vip", "dnsrr"};
constexpr std::array<std::string_view, 3> kRestartConditions = {"none", "on-failure", "any"};
constexpr std::array<std::string_view, 2> kUpdateOrders = {"stop-first", "start-first"};

// The largest replica count a file may ask for: the manager's own bound
// (service_validation.h) is the one that counts; this keeps the number sane early.
constexpr std::int64_t kMaxReplicasInFile = 1'000'000;
constexpr std::int64_t kMaxCount = 1'000'000;

// Reads the optional duration under `key` of `mapping` into `out`.
Status optionalDuration(const Value& mapping, std::string_view key, const std::string& path,
                        std::optional<std::int64_t>& out) {
  const Value* value = mapping.find(key);
  if (value == nullptr || value->isNull()) {
    return {};
  }
  auto parsed = readDurationMs(*value, childPath(path, key));
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  out = *parsed;
  return {};
}

Status optionalWhole(const Value& mapping, std::string_view key, const std::string& path,
                     std::int64_t min, std::int64_t max, std::optional<std::int64_t>& out) {
  const Value* value = mapping.find(key);
  if (value == nullptr || value->isNull()) {
    return {};
  }
  auto parsed = readWhole(*value, childPath(path, key), min, max);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  out = *parsed;
  return {};
}

template <std::size_t N>
Status optionalChoice(const Value& mapping, std::string_view key, const std::string& path,
                      const std::array<std::string_view, N>& choices,
                      std::optional<std::string>& out) {
  const Value* value = mapping.find(key);
  if (value == nullptr || value->isNull()) {
    return {};
  }
  auto parsed = readChoice(*value, childPath(path, key), choices);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  out = *parsed;
  return {};
}

void noteNotYet(const Value& mapping, std::initializer_list<std::string_view> keys,
                const std::string& prefix, const std::string& servicePath,
                IgnoredOptions& ignored) {
  for (std::string_view key : keys) {
    if (mapping.isMapping() && mapping.find(key) != nullptr) {
      ignored.notYet.push_back(fmt::format("{}.{} ({})", prefix, key, servicePath));
    }
  }
}

}  // namespace

Result<std::vector<PortEntry>> buildPorts(const Value& value, const std::string& path) {
  std::vector<PortEntry> ports;
  if (value.isNull()) {
    return ports;
  }
  if (!value.isSequence()) {
    return schemaError(value, path, "ports must be a list", kPortValid);
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    const Value& item = value.items[i];
    std::string itemPath = indexPath(path, i);
    if (item.isScalar()) {
      if (auto parsed = parseShortPort(item, itemPath, ports); !parsed) {
        return std::unexpected(parsed.error());
      }
      continue;
    }
    if (!item.isMapping()) {
      return schemaError(
          item, itemPath, "a port must be a string or a mapping",
          std::string(kPortValid) + ", or the long syntax (target, published, protocol, mode)");
    }
    auto entry = parseLongPort(item, itemPath);
    if (!entry) {
      return std::unexpected(entry.error());
    }
    if (ports.size() >= kMaxServicePorts) {
      return schemaError(item, itemPath, "too many ports",
                         fmt::format("a service publishes at most {} ports", kMaxServicePorts));
    }
    ports.push_back(std::move(*entry));
  }
  return ports;
}

Result<std::vector<VolumeEntry>> buildServiceVolumes(const Value& value, const std::string& path,
                                                     const std::string& servicePath,
                                                     IgnoredOptions& ignored) {
  std::vector<VolumeEntry> volumes;
  if (value.isNull()) {
    return volumes;
  }
  if (!value.isSequence()) {
    return schemaError(value, path, "volumes must be a list", kVolumeValid);
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    const Value& item = value.items[i];
    std::string itemPath = indexPath(path, i);
    auto entry = item.isScalar() ? parseShortVolume(item, itemPath)
                 : item.isMapping()
                     ? parseLongVolume(item, itemPath, servicePath, ignored)
                     : Result<VolumeEntry>(schemaError(
                           item, itemPath, "a volume must be a string or a mapping", kVolumeValid));
    if (!entry) {
      return std::unexpected(entry.error());
    }
    volumes.push_back(std::move(*entry));
  }
  return volumes;
}

Result<std::vector<ServiceNetworkEntry>> buildServiceNetworks(const Value& value,
                                                              const std::string& path,
                                                              const std::string& servicePath,
                                                              IgnoredOptions& ignored) {
  std::vector<ServiceNetworkEntry> networks;
  constexpr std::string_view kValid =
      "use a list of network keys, or a mapping of network key → aliases";
  if (value.isNull()) {
    return networks;
  }
  if (value.isSequence()) {
    for (std::size_t i = 0; i < value.items.size(); ++i) {
      const Value& item = value.items[i];
      std::string itemPath = indexPath(path, i);
      if (!item.isScalar()) {
        return schemaError(item, itemPath, "a network must be a name", kValid);
      }
      bool seen = std::any_of(networks.begin(), networks.end(),
                              [&](const ServiceNetworkEntry& e) { return e.key == item.text; });
      if (seen) {
        return schemaError(item, itemPath, fmt::format("{} is listed twice", quote(item.text)),
                           "list each network once");
      }
      networks.push_back(ServiceNetworkEntry{item.text, {}, item.mark});
    }
    return networks;
  }
  if (!value.isMapping()) {
    return schemaError(value, path, "networks must be a list or a mapping", kValid);
  }
  for (const auto& [key, body] : value.entries) {
    if (isExtensionKey(key.text)) {
      continue;
    }
    std::string entryPath = childPath(path, key.text);
    if (auto checked = checkMapping(body, entryPath, kServiceNetworkKeys, "a service's network");
        !checked) {
      return std::unexpected(checked.error());
    }
    ServiceNetworkEntry entry{key.text, {}, key.mark};
    if (const Value* aliases = body.find("aliases"); aliases && !aliases->isNull()) {
      auto list = readStringList(*aliases, childPath(entryPath, "aliases"), false);
      if (!list) {
        return std::unexpected(list.error());
      }
      entry.aliases = std::move(*list);
    }
    noteNotYet(body, {"ipv4_address", "ipv6_address"}, entryPath.substr(servicePath.size() + 1),
               servicePath, ignored);
    networks.push_back(std::move(entry));
  }
  return networks;
}

Result<Healthcheck> buildHealthcheck(const Value& value, const std::string& path,
                                     IgnoredOptions& ignored) {
  if (auto checked = checkMapping(value, path, kHealthcheckKeys, "healthcheck"); !checked) {
    return std::unexpected(checked.error());
  }
  Healthcheck check;
  check.mark = value.mark;
  if (value.isNull()) {
    return check;
  }
  constexpr std::string_view kTestValid =
      "use a shell command string, or a list starting with CMD, CMD-SHELL or NONE";
  if (const Value* test = value.find("test"); test && !test->isNull()) {
    std::string testPath = childPath(path, "test");
    if (test->isScalar()) {
      check.test = {"CMD-SHELL", test->text};
    } else {
      auto list = readStringList(*test, testPath, false);
      if (!list) {
        return std::unexpected(list.error());
      }
      if (list->empty()) {
        return schemaError(*test, testPath, "the test is empty", kTestValid);
      }
      const std::string& form = list->front();
      if (form == "NONE") {
        if (list->size() != 1) {
          return schemaError(*test, testPath, "NONE takes no arguments", "write [\"NONE\"]");
        }
        check.disable = true;
      } else if (form == "CMD" || form == "CMD-SHELL") {
        if (list->size() < 2 || (form == "CMD-SHELL" && list->size() != 2)) {
          return schemaError(*test, testPath,
                             fmt::format("{} needs {}", form,
                                         form == "CMD" ? "a command after it"
                                                       : "exactly one shell command after it"),
                             kTestValid);
        }
        check.test = std::move(*list);
      } else {
        return schemaError(*test, testPath,
                           fmt::format("the first item {} is not a test form", quote(form)),
                           kTestValid);
      }
    }
  }
  if (const Value* disable = value.find("disable"); disable && !disable->isNull()) {
    auto flag = readBool(*disable, childPath(path, "disable"));
    if (!flag) {
      return std::unexpected(flag.error());
    }
    if (*flag && !check.test.empty()) {
      return schemaError(*disable, childPath(path, "disable"),
                         "disable: true and a test are both given", "remove the test, or disable");
    }
    check.disable = check.disable || *flag;
  }
  for (auto [key, out] :
       {std::pair{"interval", &check.intervalMs}, std::pair{"timeout", &check.timeoutMs},
        std::pair{"start_period", &check.startPeriodMs}}) {
    if (auto read = optionalDuration(value, key, path, *out); !read) {
      return std::unexpected(read.error());
    }
  }
  if (auto read = optionalWhole(value, "retries", path, 0, kMaxCount, check.retries); !read) {
    return std::unexpected(read.error());
  }
  // Timings without a test: Docker keeps the image's HEALTHCHECK and changes its timings.
  // overmesh does not run the image's HEALTHCHECK, so the timings change nothing: say so.
  bool timings = check.intervalMs || check.timeoutMs || check.startPeriodMs || check.retries;
  if (check.test.empty() && !check.disable && timings) {
    ignored.otherWarnings.push_back(
        fmt::format("{}: no test: overmesh does not run the image's own HEALTHCHECK yet, so "
                    "these timings are ignored",
                    path));
  }
  return check;
}

Result<Deploy> buildDeploy(const Value& value, const std::string& path,
                           const std::string& servicePath, IgnoredOptions& ignored) {
  if (auto checked = checkMapping(value, path, kDeployKeysAll, "deploy"); !checked) {
    return std::unexpected(checked.error());
  }
  Deploy deploy;
  deploy.mark = value.mark;
  if (value.isNull()) {
    return deploy;
  }
  if (const Value* mode = value.find("mode");
      mode != nullptr && mode->isScalar() &&
      (mode->text == "replicated-job" || mode->text == "global-job")) {
    return schemaError(*mode, childPath(path, "mode"), "jobs are not supported by overmesh yet",
                       "use replicated or global");
  }
  if (auto read = optionalChoice(value, "mode", path, kDeployModes, deploy.mode); !read) {
    return std::unexpected(read.error());
  }
  if (auto read = optionalWhole(value, "replicas", path, 0, kMaxReplicasInFile, deploy.replicas);
      !read) {
    return std::unexpected(read.error());
  }
  if (deploy.mode == "global" && deploy.replicas) {
    return schemaError(*value.find("replicas"), childPath(path, "replicas"),
                       "replicas cannot be used with mode global",
                       "a global service runs one task per node: remove replicas, or use mode "
                       "replicated");
  }
  if (auto read = optionalChoice(value, "endpoint_mode", path, kEndpointModes, deploy.endpointMode);
      !read) {
    return std::unexpected(read.error());
  }
  if (const Value* placement = value.find("placement")) {
    std::string placementPath = childPath(path, "placement");
    if (auto checked = checkMapping(*placement, placementPath, kPlacementKeys, "placement");
        !checked) {
      return std::unexpected(checked.error());
    }
    if (const Value* constraints = placement->find("constraints");
        constraints && !constraints->isNull()) {
      auto list = readStringList(*constraints, childPath(placementPath, "constraints"), false);
      if (!list) {
        return std::unexpected(list.error());
      }
      deploy.constraints = std::move(*list);
    }
    noteNotYet(*placement, {"max_replicas_per_node", "preferences"}, "deploy.placement",
               servicePath, ignored);
  }
  if (const Value* policy = value.find("restart_policy")) {
    std::string policyPath = childPath(path, "restart_policy");
    if (auto checked = checkMapping(*policy, policyPath, kRestartPolicyKeys, "restart_policy");
        !checked) {
      return std::unexpected(checked.error());
    }
    RestartPolicyEntry entry;
    if (!policy->isNull()) {
      if (auto read =
              optionalChoice(*policy, "condition", policyPath, kRestartConditions, entry.condition);
          !read) {
        return std::unexpected(read.error());
      }
      if (auto read = optionalDuration(*policy, "delay", policyPath, entry.delayMs); !read) {
        return std::unexpected(read.error());
      }
      if (auto read =
              optionalWhole(*policy, "max_attempts", policyPath, 0, kMaxCount, entry.maxAttempts);
          !read) {
        return std::unexpected(read.error());
      }
      if (auto read = optionalDuration(*policy, "window", policyPath, entry.windowMs); !read) {
        return std::unexpected(read.error());
      }
    }
    deploy.restartPolicy = entry;
  }
  if (const Value* update = value.find("update_config")) {
    std::string updatePath = childPath(path, "update_config");
    if (auto checked = checkMapping(*update, updatePath, kUpdateConfigKeys, "update_config");
        !checked) {
      return std::unexpected(checked.error());
    }
    UpdateConfigEntry entry;
    if (!update->isNull()) {
      if (auto read =
              optionalWhole(*update, "parallelism", updatePath, 0, kMaxCount, entry.parallelism);
          !read) {
        return std::unexpected(read.error());
      }
      if (auto read = optionalDuration(*update, "delay", updatePath, entry.delayMs); !read) {
        return std::unexpected(read.error());
      }
      if (auto read = optionalChoice(*update, "order", updatePath, kUpdateOrders, entry.order);
          !read) {
        return std::unexpected(read.error());
      }
      noteNotYet(*update, {"failure_action", "max_failure_ratio", "monitor"},
                 "deploy.update_config", servicePath, ignored);
    }
    deploy.updateConfig = entry;
  }
  if (const Value* labels = value.find("labels")) {
    auto read = readLabels(*labels, childPath(path, "labels"));
    if (!read) {
      return std::unexpected(read.error());
    }
    deploy.labels = std::move(*read);
  }
  noteNotYet(value, {"resources", "rollback_config"}, "deploy", servicePath, ignored);
  return deploy;
}

}  // namespace overmesh::compose
