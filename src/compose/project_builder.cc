#include "compose/project_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_set>

#include "common/quote.h"
#include "compose/schema_support.h"
#include "compose/service_builder.h"

namespace overmesh::compose {
namespace {

constexpr std::array<std::string_view, 7> kTopLevelKeys = {
    "configs", "name", "networks", "secrets", "services", "version", "volumes"};
constexpr std::array<std::string_view, 9> kNetworkKeys = {"attachable",  "driver",   "driver_opts",
                                                          "enable_ipv6", "external", "internal",
                                                          "ipam",        "labels",   "name"};
constexpr std::array<std::string_view, 3> kIpamKeys = {"config", "driver", "options"};
constexpr std::array<std::string_view, 4> kIpamConfigKeys = {"aux_addresses", "gateway", "ip_range",
                                                             "subnet"};
constexpr std::array<std::string_view, 5> kVolumeKeys = {"driver", "driver_opts", "external",
                                                         "labels", "name"};
constexpr std::array<std::string_view, 1> kExternalKeys = {"name"};

constexpr std::string_view kStackVersions =
    "`stack deploy` reads 3.x (3.0–3.9) or the Compose Specification (no version)";

void addWarning(Warnings& warnings, std::string line) {
  if (std::find(warnings.begin(), warnings.end(), line) == warnings.end()) {
    warnings.push_back(std::move(line));
  }
}

Status checkVersion(const Value& version) {
  if (version.isNull()) {
    return {};
  }
  if (!version.isScalar()) {
    return schemaError(version, "version", "the version must be a single value",
                       fmt::format("{}", kStackVersions));
  }
  const std::string& text = version.text;
  if (text == "3") {
    return {};
  }
  if (text.size() == 3 && text.starts_with("3.") && text[2] >= '0' && text[2] <= '9') {
    return {};
  }
  if (text.starts_with('1') || text.starts_with('2')) {
    return schemaError(
        version, "version", fmt::format("version {} is not supported", quote(text)),
        fmt::format("version 1 and 2.x files are docker-compose files; {}", kStackVersions));
  }
  return schemaError(version, "version", fmt::format("version {} is not supported", quote(text)),
                     kStackVersions);
}

// `external:` of a network or volume: true/false, or the legacy `{name: X}` (which also
// means true). Sets `external` and, for the legacy form, `legacyName`.
Status readExternal(const Value& value, const std::string& path, bool& external,
                    std::string& legacyName) {
  if (value.isNull()) {
    return {};
  }
  if (value.isMapping()) {
    if (auto checked = checkMapping(value, path, kExternalKeys, "external"); !checked) {
      return checked;
    }
    external = true;
    if (const Value* name = value.find("name"); name && !name->isNull()) {
      auto text = readString(*name, childPath(path, "name"), "the existing object's name");
      if (!text) {
        return std::unexpected(text.error());
      }
      legacyName = std::move(*text);
    }
    return {};
  }
  auto flag = readBool(value, path);
  if (!flag) {
    return std::unexpected(flag.error());
  }
  external = *flag;
  return {};
}

// Docker refuses an external object with anything but its name: it is not created, so
// its settings would be ignored.
Status checkExternalAlone(const Value& body, const std::string& path,
                          std::span<const std::string_view> keys) {
  for (std::string_view key : keys) {
    if (key == "external" || key == "name") {
      continue;
    }
    if (const Value* value = body.find(key)) {
      return schemaError(*value, childPath(path, key),
                         "an external object is not created, so its settings cannot be given",
                         "remove this key, or remove external: true to have the stack create "
                         "it");
    }
  }
  return {};
}

// `name:` and `external: {name:}` together are refused (Docker: "conflicting parameters").
Status mergeNames(const Value& body, const std::string& path, const std::string& legacyName,
                  std::string& name) {
  if (legacyName.empty()) {
    return {};
  }
  if (!name.empty()) {
    return schemaError(*body.find("external"), childPath(path, "external.name"),
                       "both name: and external.name: are given",
                       "keep only name: (external.name: is the older form)");
  }
  name = legacyName;
  return {};
}

Result<NetworkEntry> buildNetwork(const Value& key, const Value& body, const std::string& path,
                                  IgnoredOptions& ignored) {
  if (auto named = checkName(key, path, "network"); !named) {
    return std::unexpected(named.error());
  }
  if (auto checked = checkMapping(body, path, kNetworkKeys, "a network"); !checked) {
    return std::unexpected(checked.error());
  }
  NetworkEntry network;
  network.key = key.text;
  network.mark = body.isNull() ? key.mark : body.mark;
  if (body.isNull()) {
    return network;
  }
  std::string legacyName;
  if (const Value* external = body.find("external")) {
    if (auto read =
            readExternal(*external, childPath(path, "external"), network.external, legacyName);
        !read) {
      return std::unexpected(read.error());
    }
  }
  if (const Value* name = body.find("name"); name && !name->isNull()) {
    auto text = readString(*name, childPath(path, "name"), "a network name");
    if (!text) {
      return std::unexpected(text.error());
    }
    network.name = std::move(*text);
  }
  if (auto merged = mergeNames(body, path, legacyName, network.name); !merged) {
    return std::unexpected(merged.error());
  }
  if (network.external) {
    if (auto alone = checkExternalAlone(body, path, kNetworkKeys); !alone) {
      return std::unexpected(alone.error());
    }
    return network;
  }
  if (const Value* driver = body.find("driver"); driver && !driver->isNull()) {
    auto text = readString(*driver, childPath(path, "driver"), "a driver name (overlay)");
    if (!text) {
      return std::unexpected(text.error());
    }
    network.driver = std::move(*text);
  }
  if (const Value* options = body.find("driver_opts"); options && !options->isNull()) {
    if (!options->isMapping()) {
      return schemaError(*options, childPath(path, "driver_opts"), "driver_opts must be a mapping",
                         "write option: value pairs");
    }
    auto read = readLabels(*options, childPath(path, "driver_opts"));
    if (!read) {
      return std::unexpected(read.error());
    }
    network.driverOpts = std::move(*read);
  }
  for (auto [name, out] :
       {std::pair{"attachable", &network.attachable}, std::pair{"internal", &network.internal}}) {
    if (const Value* value = body.find(name); value && !value->isNull()) {
      auto flag = readBool(*value, childPath(path, name));
      if (!flag) {
        return std::unexpected(flag.error());
      }
      *out = *flag;
    }
  }
  if (const Value* labels = body.find("labels")) {
    auto read = readLabels(*labels, childPath(path, "labels"));
    if (!read) {
      return std::unexpected(read.error());
    }
    network.labels = std::move(*read);
  }
  if (const Value* ipv6 = body.find("enable_ipv6"); ipv6 && !ipv6->isNull()) {
    auto flag = readBool(*ipv6, childPath(path, "enable_ipv6"));
    if (!flag) {
      return std::unexpected(flag.error());
    }
    if (*flag) {
      ignored.notYet.push_back(fmt::format("enable_ipv6 ({})", path));
    }
  }
  if (const Value* ipam = body.find("ipam")) {
    std::string ipamPath = childPath(path, "ipam");
    if (auto checked = checkMapping(*ipam, ipamPath, kIpamKeys, "ipam"); !checked) {
      return std::unexpected(checked.error());
    }
    if (const Value* driver = ipam->find("driver"); driver && !driver->isNull()) {
      if (!driver->isScalar() || driver->text != "default") {
        return schemaError(*driver, childPath(ipamPath, "driver"),
                           "overmesh allocates addresses itself",
                           "leave ipam.driver out, or write default");
      }
    }
    if (ipam->isMapping() && ipam->find("options") != nullptr) {
      ignored.notYet.push_back(fmt::format("ipam.options ({})", path));
    }
    if (const Value* config = ipam->find("config"); config && !config->isNull()) {
      std::string configPath = childPath(ipamPath, "config");
      if (!config->isSequence()) {
        return schemaError(*config, configPath, "ipam.config must be a list",
                           "write a list of mappings with subnet:");
      }
      for (std::size_t i = 0; i < config->items.size(); ++i) {
        const Value& item = config->items[i];
        std::string itemPath = indexPath(configPath, i);
        if (auto checked = checkMapping(item, itemPath, kIpamConfigKeys, "an ipam.config entry");
            !checked) {
          return std::unexpected(checked.error());
        }
        if (const Value* subnet = item.find("subnet"); subnet && !subnet->isNull()) {
          auto text = readString(*subnet, childPath(itemPath, "subnet"), "a CIDR subnet");
          if (!text) {
            return std::unexpected(text.error());
          }
          network.subnets.push_back(std::move(*text));
        }
        for (std::string_view option : {"aux_addresses", "gateway", "ip_range"}) {
          if (item.isMapping() && item.find(option) != nullptr) {
            ignored.notYet.push_back(fmt::format("ipam.config[{}].{} ({})", i, option, path));
          }
        }
      }
    }
  }
  return network;
}

Result<VolumeDeclaration> buildVolume(const Value& key, const Value& body, const std::string& path,
                                      IgnoredOptions& ignored) {
  if (auto named = checkName(key, path, "volume"); !named) {
    return std::unexpected(named.error());
  }
  if (auto checked = checkMapping(body, path, kVolumeKeys, "a volume"); !checked) {
    return std::unexpected(checked.error());
  }
  VolumeDeclaration volume;
  volume.key = key.text;
  volume.mark = body.isNull() ? key.mark : body.mark;
  if (body.isNull()) {
    return volume;
  }
  std::string legacyName;
  if (const Value* external = body.find("external")) {
    if (auto read =
            readExternal(*external, childPath(path, "external"), volume.external, legacyName);
        !read) {
      return std::unexpected(read.error());
    }
  }
  if (const Value* name = body.find("name"); name && !name->isNull()) {
    auto text = readString(*name, childPath(path, "name"), "a volume name");
    if (!text) {
      return std::unexpected(text.error());
    }
    volume.name = std::move(*text);
  }
  if (auto merged = mergeNames(body, path, legacyName, volume.name); !merged) {
    return std::unexpected(merged.error());
  }
  if (volume.external) {
    if (auto alone = checkExternalAlone(body, path, kVolumeKeys); !alone) {
      return std::unexpected(alone.error());
    }
    return volume;
  }
  // Ignoring a driver or its options would hand the service an empty local directory
  // where it expects, say, an NFS share: refused rather than warned.
  if (const Value* driver = body.find("driver"); driver && !driver->isNull()) {
    if (!driver->isScalar() || driver->text != "local") {
      return schemaError(*driver, childPath(path, "driver"),
                         fmt::format("the volume driver {} is not supported",
                                     quote(driver->isScalar() ? driver->text : "")),
                         "overmesh creates local volumes: leave driver out or write local");
    }
  }
  if (const Value* options = body.find("driver_opts"); options && !options->isNull()) {
    return schemaError(*options, childPath(path, "driver_opts"),
                       "volume driver options are not supported",
                       "overmesh creates plain local volumes: remove driver_opts");
  }
  if (body.find("labels") != nullptr) {
    ignored.notYet.push_back(fmt::format("labels ({})", path));
  }
  return volume;
}

// Every network a service names must be declared (or be "default"), and so must every
// named volume it mounts: Docker refuses a file that refers to an undefined one.
Status checkReferences(const Project& project) {
  for (const Service& service : project.services) {
    std::string servicePath = childPath("services", service.key);
    if (service.networks) {
      for (const ServiceNetworkEntry& entry : *service.networks) {
        bool declared = entry.key == "default" ||
                        std::any_of(project.networks.begin(), project.networks.end(),
                                    [&](const NetworkEntry& n) { return n.key == entry.key; });
        if (!declared) {
          Value at;
          at.mark = entry.mark;
          return schemaError(at, childPath(childPath(servicePath, "networks"), entry.key),
                             fmt::format("the network {} is not declared", quote(entry.key)),
                             "declare it under the top-level networks: (or use default)");
        }
      }
    }
    for (std::size_t i = 0; i < service.volumes.size(); ++i) {
      const VolumeEntry& volume = service.volumes[i];
      if (volume.type != "volume" || volume.source.empty()) {
        continue;
      }
      bool declared =
          std::any_of(project.volumes.begin(), project.volumes.end(),
                      [&](const VolumeDeclaration& v) { return v.key == volume.source; });
      if (!declared) {
        Value at;
        at.mark = volume.mark;
        return schemaError(at, indexPath(childPath(servicePath, "volumes"), i),
                           fmt::format("the volume {} is not declared", quote(volume.source)),
                           "declare it under the top-level volumes:, or mount a path (starting "
                           "with /, . or ~)");
      }
    }
  }
  return {};
}

void addIgnoredWarnings(const IgnoredOptions& ignored, Warnings& warnings) {
  if (!ignored.unsupported.empty()) {
    std::string keys;
    for (const std::string& key : ignored.unsupported) {
      keys += keys.empty() ? key : ", " + key;
    }
    addWarning(warnings, "Ignoring unsupported options: " + keys);
  }
  if (!ignored.deprecated.empty()) {
    std::string keys;
    for (const std::string& key : ignored.deprecated) {
      std::string item = fmt::format("{} ({})", key, deprecatedExplanation(key));
      keys += keys.empty() ? item : ", " + item;
    }
    addWarning(warnings, "Ignoring deprecated options: " + keys);
  }
  if (!ignored.notYet.empty()) {
    std::string items;
    for (const std::string& item : ignored.notYet) {
      items += items.empty() ? item : ", " + item;
    }
    addWarning(warnings, "Ignoring options overmesh does not support yet: " + items);
  }
  // One line per service at most, so possibly many: a set keeps this linear (loadCompose
  // caps what is printed).
  std::unordered_set<std::string> seen(warnings.begin(), warnings.end());
  for (const std::string& line : ignored.otherWarnings) {
    if (seen.insert(line).second) {
      warnings.push_back(line);
    }
  }
}

// Builds the entries of a top-level mapping (services, networks, volumes) in file order.
template <typename T, typename Build>
Status buildSection(const Value& root, std::string_view section, std::vector<T>& out, Build build) {
  const Value* body = root.find(section);
  if (body == nullptr || body->isNull()) {
    return {};
  }
  std::string path(section);
  if (!body->isMapping()) {
    return schemaError(*body, path, fmt::format("{} must be a mapping", section),
                       "write one entry per key");
  }
  for (const auto& [key, value] : body->entries) {
    if (isExtensionKey(key.text)) {
      continue;
    }
    auto built = build(key, value, childPath(path, key.text));
    if (!built) {
      return std::unexpected(built.error());
    }
    out.push_back(std::move(*built));
  }
  return {};
}

}  // namespace

Result<Project> buildProject(const Value& merged, const Environment& environment,
                             const FileReader& readFile, Warnings& warnings,
                             const std::string& workingDirectory) {
  if (!merged.isMapping()) {
    return schemaError(merged, "(top level)", "the file is not a mapping",
                       "write a compose file with services: (and networks:, volumes:)");
  }
  if (auto checked = checkMapping(merged, "", kTopLevelKeys, "the file"); !checked) {
    return std::unexpected(checked.error());
  }
  Project project;
  if (const Value* version = merged.find("version")) {
    if (auto checked = checkVersion(*version); !checked) {
      return std::unexpected(checked.error());
    }
    project.version = version->isScalar() ? version->text : "";
  }
  for (const auto& [key, value] : merged.entries) {
    if (key.text != "configs" && key.text != "secrets") {
      continue;
    }
    std::string_view section = key.text;
    if (!value.isNull() && !(value.isMapping() && value.entries.empty())) {
      return schemaError(key, std::string(section),
                         fmt::format("overmesh does not support {} yet", section),
                         "put the files in the image or in a bind-mounted volume, and remove "
                         "this section");
    }
  }
  if (const Value* name = merged.find("name"); name && !name->isNull()) {
    auto text = readString(*name, "name", "a project name (ignored by stack deploy)");
    if (!text) {
      return std::unexpected(text.error());
    }
    addWarning(warnings,
               fmt::format("Ignoring the project name {}: a stack is named on the command line "
                           "(stack deploy … STACK)",
                           quote(*text)));
  }

  IgnoredOptions ignored;
  ServiceContext context{environment, readFile, ignored, workingDirectory};
  if (auto built = buildSection(merged, "networks", project.networks,
                                [&](const Value& key, const Value& body, const std::string& path) {
                                  return buildNetwork(key, body, path, ignored);
                                });
      !built) {
    return std::unexpected(built.error());
  }
  if (auto built = buildSection(merged, "volumes", project.volumes,
                                [&](const Value& key, const Value& body, const std::string& path) {
                                  return buildVolume(key, body, path, ignored);
                                });
      !built) {
    return std::unexpected(built.error());
  }
  if (auto built = buildSection(merged, "services", project.services,
                                [&](const Value& key, const Value& body, const std::string& path) {
                                  return buildService(key, body, path, context);
                                });
      !built) {
    return std::unexpected(built.error());
  }
  if (auto checked = checkReferences(project); !checked) {
    return std::unexpected(checked.error());
  }
  addIgnoredWarnings(ignored, warnings);
  return project;
}

}  // namespace overmesh::compose
