#include "compose/service_builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "common/quote.h"
#include "compose/env_file.h"
#include "compose/schema_support.h"
#include "compose/service_parts.h"
#include "compose/shell_words.h"
#include "compose/utf8.h"

namespace overmesh::compose {
namespace {

// How each service key is treated. Docker's loader decides the first three groups; the
// rest is overmesh's choice for what Swarm runs and overmesh does not yet:
//
//   key                        treatment   why
//   -------------------------  ----------  ----------------------------------------------
//   image, command, …          built       project.h's Service
//   depends_on                 accepted    Swarm starts services in no order; Docker
//                                          ignores it silently too
//   build, links, restart, …   warned      Docker's "unsupported" list (project_builder.h)
//   container_name, expose     warned      Docker's "deprecated" list
//   cap_add, dns, logging, …   warned      Swarm runs them, overmesh not yet: "Ignoring
//                                          options overmesh does not support yet"
//   extends, volumes_from, …   refused     Docker's "forbidden" list, with the way out
//   secrets, configs           refused     ignoring them would start the app without the
//                                          files it reads: a silent change of behaviour
//   credential_spec, isolation warned      Windows-only settings: meaningless on Linux
//                                          nodes, so ignoring them changes nothing
// Anything else is an unknown key (refused with a "did you mean").
enum class KeyTreatment { Built, Accepted, Unsupported, Deprecated, Forbidden, Refused, NotYet };

struct KeyRule {
  std::string_view key;
  KeyTreatment treatment;
  std::string_view why;  // deprecated: the explanation; forbidden/refused: the way out
};

// Sorted by key: the error for an unknown key lists them in this order.
constexpr KeyRule kServiceKeys[] = {
    {"build", KeyTreatment::Unsupported, ""},
    {"cap_add", KeyTreatment::NotYet, ""},
    {"cap_drop", KeyTreatment::NotYet, ""},
    {"cgroup_parent", KeyTreatment::Unsupported, ""},
    {"command", KeyTreatment::Built, ""},
    {"configs", KeyTreatment::Refused, "put the file in the image or in a bind-mounted volume"},
    {"container_name", KeyTreatment::Deprecated,
     "a service runs many containers, which the orchestrator names: one name cannot fit them "
     "all"},
    {"cpu_quota", KeyTreatment::Forbidden,
     "CPU limits belong under deploy.resources.limits.cpus (which overmesh ignores for now)"},
    {"cpu_shares", KeyTreatment::Forbidden,
     "CPU reservations belong under deploy.resources.reservations.cpus (which overmesh ignores "
     "for now)"},
    {"cpuset", KeyTreatment::Forbidden,
     "pinning a service to CPUs is not possible in a stack; CPU limits belong under "
     "deploy.resources (which overmesh ignores for now)"},
    {"credential_spec", KeyTreatment::NotYet, ""},
    {"deploy", KeyTreatment::Built, ""},
    {"depends_on", KeyTreatment::Accepted, ""},
    {"devices", KeyTreatment::Unsupported, ""},
    {"dns", KeyTreatment::NotYet, ""},
    {"dns_search", KeyTreatment::NotYet, ""},
    {"domainname", KeyTreatment::Unsupported, ""},
    {"entrypoint", KeyTreatment::Built, ""},
    {"env_file", KeyTreatment::Built, ""},
    {"environment", KeyTreatment::Built, ""},
    {"expose", KeyTreatment::Deprecated,
     "services on a shared network reach each other's containers on every port without it"},
    {"extends", KeyTreatment::Forbidden,
     "stacks do not extend services: merge files with several -c options, or share settings "
     "with YAML anchors and x- fields"},
    {"external_links", KeyTreatment::Unsupported, ""},
    {"extra_hosts", KeyTreatment::NotYet, ""},
    {"healthcheck", KeyTreatment::Built, ""},
    {"hostname", KeyTreatment::Built, ""},
    {"image", KeyTreatment::Built, ""},
    {"init", KeyTreatment::Built, ""},
    {"ipc", KeyTreatment::Unsupported, ""},
    {"isolation", KeyTreatment::NotYet, ""},
    {"labels", KeyTreatment::Built, ""},
    {"links", KeyTreatment::Unsupported, ""},
    {"logging", KeyTreatment::NotYet, ""},
    {"mac_address", KeyTreatment::Unsupported, ""},
    {"mem_limit", KeyTreatment::Forbidden,
     "memory limits belong under deploy.resources.limits.memory (which overmesh ignores for "
     "now)"},
    {"memswap_limit", KeyTreatment::Forbidden,
     "swap limits are not possible in a stack; memory limits belong under "
     "deploy.resources.limits.memory (which overmesh ignores for now)"},
    {"network_mode", KeyTreatment::Unsupported, ""},
    {"networks", KeyTreatment::Built, ""},
    {"pid", KeyTreatment::Unsupported, ""},
    {"ports", KeyTreatment::Built, ""},
    {"privileged", KeyTreatment::Unsupported, ""},
    {"read_only", KeyTreatment::Built, ""},
    {"restart", KeyTreatment::Built, ""},  // also listed as unsupported, as Docker does
    {"secrets", KeyTreatment::Refused,
     "pass the value through environment or env_file, or a bind-mounted file"},
    {"security_opt", KeyTreatment::Unsupported, ""},
    {"shm_size", KeyTreatment::Unsupported, ""},
    {"stdin_open", KeyTreatment::NotYet, ""},
    {"stop_grace_period", KeyTreatment::Built, ""},
    {"stop_signal", KeyTreatment::Built, ""},
    {"sysctls", KeyTreatment::NotYet, ""},
    {"tmpfs", KeyTreatment::NotYet, ""},
    {"tty", KeyTreatment::NotYet, ""},
    {"ulimits", KeyTreatment::NotYet, ""},
    {"user", KeyTreatment::Built, ""},
    {"userns_mode", KeyTreatment::Unsupported, ""},
    {"volume_driver", KeyTreatment::Forbidden,
     "declare the volume under the top-level volumes: with its driver (overmesh creates local "
     "volumes)"},
    {"volumes", KeyTreatment::Built, ""},
    {"volumes_from", KeyTreatment::Forbidden,
     "share data through a named volume declared under the top-level volumes: and mounted "
     "in each service"},
    {"working_dir", KeyTreatment::Built, ""},
};

const KeyRule* findRule(std::string_view key) {
  for (const KeyRule& rule : kServiceKeys) {
    if (rule.key == key) {
      return &rule;
    }
  }
  return nullptr;
}

std::vector<std::string_view> knownServiceKeys() {
  std::vector<std::string_view> keys;
  for (const KeyRule& rule : kServiceKeys) {
    keys.push_back(rule.key);
  }
  return keys;
}

// compose's `restart:` values.
bool validRestart(std::string_view text) {
  if (text == "no" || text == "always" || text == "unless-stopped" || text == "on-failure") {
    return true;
  }
  if (!text.starts_with("on-failure:")) {
    return false;
  }
  std::string_view count = text.substr(std::string_view("on-failure:").size());
  return !count.empty() && count.size() <= 9 &&
         std::all_of(count.begin(), count.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// `command:` / `entrypoint:`: a string (split as a shell would) or a list of strings.
Result<std::optional<std::vector<std::string>>> readCommand(const Value& value,
                                                            const std::string& path) {
  if (value.isNull()) {
    return std::optional<std::vector<std::string>>();
  }
  if (value.isScalar()) {
    auto words = splitShellWords(value.text);
    if (!words) {
      return schemaError(value, path,
                         fmt::format("{} cannot be split into words: {}", quote(value.text),
                                     words.error().message),
                         "close every quote, or write the command as a list of strings");
    }
    return std::optional(std::move(*words));
  }
  auto list = readStringList(value, path, false);
  if (!list) {
    return std::unexpected(list.error());
  }
  return std::optional(std::move(*list));
}

// `environment:`: entries with a value, and the keys whose value comes from the deploying
// environment (left out when it has none).
Result<StringMap> readEnvironment(const Value& value, const std::string& path,
                                  const Environment& environment) {
  constexpr std::string_view kValid =
      "use a mapping (NAME: value) or a list of \"NAME=value\" or \"NAME\" strings";
  StringMap variables;
  // A value taken from the deploying environment ends up in a JSON request: UTF-8 only.
  auto fromEnvironment = [&](const std::string& name, const Value& at,
                             const std::string& atPath) -> Status {
    if (auto found = environment.find(name); found != environment.end()) {
      if (firstInvalidUtf8(found->second) != std::string::npos) {
        return schemaError(
            at, atPath,
            fmt::format("the value of {} in the environment is invalid UTF-8", quote(name)),
            "set it to UTF-8 text, or give the value here (NAME=value)");
      }
      variables[name] = found->second;
    }
    return {};
  };
  if (value.isNull()) {
    return variables;
  }
  if (value.isMapping()) {
    for (const auto& [key, item] : value.entries) {
      if (item.isNull()) {
        if (auto taken = fromEnvironment(key.text, key, childPath(path, key.text)); !taken) {
          return std::unexpected(taken.error());
        }
        continue;
      }
      if (!item.isScalar()) {
        return schemaError(item, childPath(path, key.text), "a variable must be a single value",
                           "use a string, a number or a boolean");
      }
      bool flag = false;
      variables[key.text] = (!item.quoted && boolWord(item.text, flag))
                                ? std::string(flag ? "true" : "false")
                                : item.text;
    }
    return variables;
  }
  if (!value.isSequence()) {
    return schemaError(value, path, "environment must be a mapping or a list", kValid);
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    const Value& item = value.items[i];
    std::string itemPath = indexPath(path, i);
    if (!item.isScalar()) {
      return schemaError(item, itemPath, "a variable must be a string", kValid);
    }
    std::size_t equals = item.text.find('=');
    std::string name = item.text.substr(0, equals);
    if (name.empty()) {
      return schemaError(item, itemPath, fmt::format("{} has no name", quote(item.text)), kValid);
    }
    if (equals == std::string::npos) {
      if (auto taken = fromEnvironment(name, item, itemPath); !taken) {
        return std::unexpected(taken.error());
      }
    } else {
      variables[name] = item.text.substr(equals + 1);
    }
  }
  return variables;
}

// Relative env_file paths are resolved against the working directory (the first -c
// file's directory), whichever file names them, as docker/cli does. `~/` is left as it
// is: the reader reports the file it cannot open.
std::string resolvePath(const std::string& directory, const std::string& path) {
  if (path.starts_with('/') || path.starts_with('~')) {
    return path;
  }
  return directory == "." ? path : fmt::format("{}/{}", directory, path);
}

Result<StringMap> readEnvFiles(const Value& value, const std::string& path,
                               ServiceContext& context) {
  StringMap variables;
  if (value.isNull()) {
    return variables;
  }
  auto files = readStringList(value, path, true);
  if (!files) {
    return std::unexpected(files.error());
  }
  for (std::size_t i = 0; i < files->size(); ++i) {
    const Value& item = value.isSequence() ? value.items[i] : value;
    std::string itemPath = value.isSequence() ? indexPath(path, i) : path;
    std::string resolved = resolvePath(context.workingDirectory, (*files)[i]);
    auto text = context.readFile(resolved);
    if (!text) {
      return schemaError(item, itemPath,
                         fmt::format("cannot read {}: {}", quote(resolved), text.error().message),
                         "give a readable file (a relative path starts from the directory "
                         "of the first -c file)");
    }
    auto parsed = parseEnvFile(*text, context.environment);
    if (!parsed) {
      return schemaError(item, itemPath,
                         fmt::format("{} {}", quote(resolved), parsed.error().message),
                         "write one NAME=value per line (# starts a comment)");
    }
    for (auto& [name, variable] : *parsed) {
      variables[name] = std::move(variable);
    }
  }
  return variables;
}

Status readText(const Value& body, std::string_view key, const std::string& path,
                std::string_view valid, std::string& out) {
  const Value* value = body.find(key);
  if (value == nullptr || value->isNull()) {
    return {};
  }
  auto text = readString(*value, childPath(path, key), valid);
  if (!text) {
    return std::unexpected(text.error());
  }
  out = std::move(*text);
  return {};
}

Status readFlag(const Value& body, std::string_view key, const std::string& path,
                std::optional<bool>& out) {
  const Value* value = body.find(key);
  if (value == nullptr || value->isNull()) {
    return {};
  }
  auto flag = readBool(*value, childPath(path, key));
  if (!flag) {
    return std::unexpected(flag.error());
  }
  out = *flag;
  return {};
}

// Checks the keys of `body` against kServiceKeys: unknown, forbidden and refused keys fail;
// ignored ones are noted.
Status classifyKeys(const Value& body, const std::string& path, IgnoredOptions& ignored) {
  static const std::vector<std::string_view> known = knownServiceKeys();
  if (auto checked = checkMapping(body, path, known, "a service"); !checked) {
    return checked;
  }
  for (const auto& [key, value] : body.entries) {
    const KeyRule* rule = findRule(key.text);
    if (rule == nullptr) {
      continue;  // an x- field
    }
    switch (rule->treatment) {
      case KeyTreatment::Forbidden:
        return schemaError(key, childPath(path, key.text), "this option is not allowed in a stack",
                           rule->why);
      case KeyTreatment::Refused:
        return schemaError(key, childPath(path, key.text),
                           fmt::format("overmesh does not support {} yet", key.text), rule->why);
      case KeyTreatment::Unsupported:
        ignored.unsupported.insert(key.text);
        break;
      case KeyTreatment::Deprecated:
        ignored.deprecated.insert(key.text);
        break;
      case KeyTreatment::NotYet:
        ignored.notYet.push_back(fmt::format("{} ({})", key.text, path));
        break;
      case KeyTreatment::Built:
      case KeyTreatment::Accepted:
        break;
    }
  }
  if (body.find("restart") != nullptr) {
    ignored.unsupported.insert("restart");
  }
  return {};
}

}  // namespace

std::string deprecatedExplanation(std::string_view key) {
  const KeyRule* rule = findRule(key);
  return rule == nullptr ? std::string() : std::string(rule->why);
}

std::string composeDirectory(const std::string& file) {
  std::size_t slash = file.rfind('/');
  if (slash == std::string::npos || file == "-") {
    return ".";
  }
  return slash == 0 ? "/" : file.substr(0, slash);
}

Result<Service> buildService(const Value& key, const Value& body, const std::string& path,
                             ServiceContext& context) {
  if (auto named = checkName(key, path, "service"); !named) {
    return std::unexpected(named.error());
  }
  if (auto classified = classifyKeys(body, path, context.ignored); !classified) {
    return std::unexpected(classified.error());
  }
  Service service;
  service.key = key.text;
  service.mark = body.isNull() ? key.mark : body.mark;
  service.directory = context.workingDirectory;

  // No image is overmesh's process service: its `command` runs on the node (as
  // `service create` without --image). Without both there is nothing to run.
  const Value* image = body.find("image");
  const Value* command = body.isNull() ? nullptr : body.find("command");
  if ((image == nullptr || image->isNull()) && (command == nullptr || command->isNull())) {
    return schemaError(body.isNull() ? key : body, childPath(path, "image"), "no image",
                       "give the image to run (a stack does not build images: build: is "
                       "ignored), or a command: to run as a process on the node");
  }
  if (image != nullptr && !image->isNull()) {
    if (auto read = readText(body, "image", path, "an image reference", service.image); !read) {
      return std::unexpected(read.error());
    }
  }
  if (image != nullptr && !image->isNull() && service.image.empty()) {
    return schemaError(*image, childPath(path, "image"), "the image is empty",
                       "give the image to run");
  }
  for (auto [name, out] :
       {std::pair{"command", &service.command}, std::pair{"entrypoint", &service.entrypoint}}) {
    if (const Value* value = body.find(name)) {
      auto read = readCommand(*value, childPath(path, name));
      if (!read) {
        return std::unexpected(read.error());
      }
      *out = std::move(*read);
    }
  }
  if (const Value* envFiles = body.find("env_file")) {
    auto read = readEnvFiles(*envFiles, childPath(path, "env_file"), context);
    if (!read) {
      return std::unexpected(read.error());
    }
    service.environment = std::move(*read);
  }
  if (const Value* environment = body.find("environment")) {
    auto read = readEnvironment(*environment, childPath(path, "environment"), context.environment);
    if (!read) {
      return std::unexpected(read.error());
    }
    for (auto& [name, text] : *read) {
      service.environment[name] = std::move(text);  // environment wins over env_file
    }
  }
  for (auto [name, out, valid] :
       {std::tuple{"working_dir", &service.workingDir, "a path in the container"},
        std::tuple{"user", &service.user, "a user name or id (USER[:GROUP])"},
        std::tuple{"hostname", &service.hostname, "a host name"},
        std::tuple{"stop_signal", &service.stopSignal, "a signal name such as SIGTERM"}}) {
    if (auto read = readText(body, name, path, valid, *out); !read) {
      return std::unexpected(read.error());
    }
  }
  if (const Value* restart = body.find("restart"); restart && !restart->isNull()) {
    auto text = readString(*restart, childPath(path, "restart"), "a restart policy");
    if (!text) {
      return std::unexpected(text.error());
    }
    if (!validRestart(*text)) {
      return schemaError(*restart, childPath(path, "restart"),
                         fmt::format("{} is not a restart policy", quote(*text)),
                         "use no, always, on-failure, on-failure:N or unless-stopped");
    }
    service.restart = std::move(*text);
  }
  if (auto read = readFlag(body, "init", path, service.init); !read) {
    return std::unexpected(read.error());
  }
  if (auto read = readFlag(body, "read_only", path, service.readOnly); !read) {
    return std::unexpected(read.error());
  }
  if (const Value* grace = body.find("stop_grace_period"); grace && !grace->isNull()) {
    auto read = readDurationMs(*grace, childPath(path, "stop_grace_period"));
    if (!read) {
      return std::unexpected(read.error());
    }
    service.stopGracePeriodMs = *read;
  }
  if (const Value* labels = body.find("labels")) {
    auto read = readLabels(*labels, childPath(path, "labels"));
    if (!read) {
      return std::unexpected(read.error());
    }
    service.labels = std::move(*read);
  }
  if (const Value* networks = body.find("networks")) {
    auto read = buildServiceNetworks(*networks, childPath(path, "networks"), path, context.ignored);
    if (!read) {
      return std::unexpected(read.error());
    }
    service.networks = std::move(*read);
  }
  if (const Value* ports = body.find("ports")) {
    auto read = buildPorts(*ports, childPath(path, "ports"));
    if (!read) {
      return std::unexpected(read.error());
    }
    service.ports = std::move(*read);
  }
  if (const Value* volumes = body.find("volumes")) {
    auto read = buildServiceVolumes(*volumes, childPath(path, "volumes"), path, context.ignored);
    if (!read) {
      return std::unexpected(read.error());
    }
    service.volumes = std::move(*read);
  }
  if (const Value* healthcheck = body.find("healthcheck")) {
    auto read = buildHealthcheck(*healthcheck, childPath(path, "healthcheck"), context.ignored);
    if (!read) {
      return std::unexpected(read.error());
    }
    service.healthcheck = std::move(*read);
  }
  if (const Value* deploy = body.find("deploy")) {
    auto read = buildDeploy(*deploy, childPath(path, "deploy"), path, context.ignored);
    if (!read) {
      return std::unexpected(read.error());
    }
    service.deploy = std::move(*read);
  }
  return service;
}

}  // namespace overmesh::compose
