#include "cli/port_flags.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>
#include <utility>

namespace overmesh::cli {
namespace {

constexpr std::int64_t kMaxPort = 65535;
constexpr std::string_view kPublishForms =
    "use PUBLISHED:TARGET[/udp], TARGET, or "
    "published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]";

Error invalidPublish(const std::string& flag, const std::string& value, std::string_view why) {
  return Error{ErrorKind::InvalidArgument,
               fmt::format("{} \"{}\" is not valid: {}; {}", flag, value, why, kPublishForms)};
}

// A port number written in decimal digits only (no sign, no spaces), from `min` to 65535.
std::optional<std::int64_t> portNumber(std::string_view text, std::int64_t min) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::int64_t number = 0;
  for (char c : text) {
    number = number * 10 + (c - '0');
  }
  if (number < min || number > kMaxPort) {
    return std::nullopt;
  }
  return number;
}

std::string notAPort(std::string_view what, std::string_view text, std::int64_t min) {
  return fmt::format("{} \"{}\" is not a number from {} to {}", what, text, min, kMaxPort);
}

// "P" or "P1-P2" (P1 <= P2). A single port may be as low as `min`; both ends of a range
// are at least 1 (a range of "allocate" makes no sense). The error is the reason alone.
struct PortRange {
  std::int64_t first = 0;
  std::int64_t last = 0;
  std::int64_t size() const { return last - first + 1; }
};

std::expected<PortRange, std::string> parseRange(std::string_view what, std::string_view text,
                                                 std::int64_t min) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto port = portNumber(text, min);
    if (!port) {
      return std::unexpected(notAPort(what, text, min));
    }
    return PortRange{*port, *port};
  }
  std::string_view firstText = text.substr(0, dash);
  std::string_view lastText = text.substr(dash + 1);
  auto first = portNumber(firstText, 1);
  if (!first) {
    return std::unexpected(
        fmt::format("{} range \"{}\": {}", what, text, notAPort("its start", firstText, 1)));
  }
  auto last = portNumber(lastText, 1);
  if (!last) {
    return std::unexpected(
        fmt::format("{} range \"{}\": {}", what, text, notAPort("its end", lastText, 1)));
  }
  if (*last < *first) {
    return std::unexpected(fmt::format("{} range \"{}\" ends before it starts", what, text));
  }
  return PortRange{*first, *last};
}

std::vector<std::string_view> splitOn(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t at = text.find(separator, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::string> checkProtocol(const std::string& protocol) {
  if (protocol == "tcp" || protocol == "udp") {
    return std::nullopt;
  }
  return fmt::format("protocol \"{}\" is not supported: use tcp or udp", protocol);
}

// published=P,target=T,protocol=…,mode=… (see parsePublishFlag).
Result<std::vector<api::PortConfig>> parseLongForm(const std::string& flag,
                                                   const std::string& value) {
  api::PortConfig port;
  bool seenPublished = false;
  bool seenTarget = false;
  bool seenProtocol = false;
  bool seenMode = false;
  auto once = [&](bool& seen, std::string_view key) -> std::optional<Error> {
    if (seen) {
      return invalidPublish(flag, value, fmt::format("{} is given twice", key));
    }
    seen = true;
    return std::nullopt;
  };
  for (std::string_view field : splitOn(value, ',')) {
    auto equals = field.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return std::unexpected(
          invalidPublish(flag, value, fmt::format("\"{}\" is not key=value", field)));
    }
    std::string_view key = field.substr(0, equals);
    std::string item(field.substr(equals + 1));
    if (key == "published") {
      if (auto twice = once(seenPublished, key)) {
        return std::unexpected(*twice);
      }
      auto number = portNumber(item, 0);
      if (!number) {
        return std::unexpected(invalidPublish(flag, value, notAPort("published port", item, 0)));
      }
      port.publishedPort = *number;
    } else if (key == "target") {
      if (auto twice = once(seenTarget, key)) {
        return std::unexpected(*twice);
      }
      auto number = portNumber(item, 1);
      if (!number) {
        return std::unexpected(invalidPublish(flag, value, notAPort("target port", item, 1)));
      }
      port.targetPort = *number;
    } else if (key == "protocol") {
      if (auto twice = once(seenProtocol, key)) {
        return std::unexpected(*twice);
      }
      if (auto bad = checkProtocol(item)) {
        return std::unexpected(invalidPublish(flag, value, *bad));
      }
      port.protocol = item;
    } else if (key == "mode") {
      if (auto twice = once(seenMode, key)) {
        return std::unexpected(*twice);
      }
      if (item != "ingress" && item != "host") {
        return std::unexpected(invalidPublish(
            flag, value, fmt::format("mode \"{}\" is not valid: use ingress or host", item)));
      }
      port.publishMode = item;
    } else {
      return std::unexpected(invalidPublish(
          flag, value,
          fmt::format("unknown key \"{}\" (known: published, target, protocol, mode)", key)));
    }
  }
  if (!seenTarget) {
    return std::unexpected(
        invalidPublish(flag, value, "target is missing (the task's port, e.g. target=80)"));
  }
  return std::vector<api::PortConfig>{port};
}

// [PUBLISHED:]TARGET[/PROTOCOL] with ranges (see parsePublishFlag).
Result<std::vector<api::PortConfig>> parseShortForm(const std::string& flag,
                                                    const std::string& value) {
  auto parts = splitOn(value, ':');
  if (parts.size() > 2) {
    // Docker's ip:published:target; the IP is what comes before the last two parts.
    std::size_t lastColon = value.rfind(':');
    std::string host = value.substr(0, value.rfind(':', lastColon - 1));
    return std::unexpected(invalidPublish(
        flag, value,
        fmt::format("a host IP (\"{}\") is not supported: a published port listens on every "
                    "node's addresses",
                    host)));
  }
  std::string_view publishedText = parts.size() == 2 ? parts.front() : std::string_view();
  std::string_view last = parts.back();
  auto slash = last.find('/');
  std::string_view targetText = last.substr(0, slash);
  std::string protocol = slash == std::string_view::npos ? "" : lowercase(last.substr(slash + 1));
  if (protocol.empty()) {
    protocol = "tcp";
  }
  if (targetText.empty()) {
    return std::unexpected(invalidPublish(flag, value, "no target port"));
  }
  if (auto bad = checkProtocol(protocol)) {
    return std::unexpected(invalidPublish(flag, value, *bad));
  }
  auto target = parseRange("target port", targetText, 1);
  if (!target) {
    return std::unexpected(invalidPublish(flag, value, target.error()));
  }
  std::int64_t count = target->size();
  std::optional<PortRange> published;
  if (!publishedText.empty()) {
    auto parsed = parseRange("published port", publishedText, 0);
    if (!parsed) {
      return std::unexpected(invalidPublish(flag, value, parsed.error()));
    }
    published = *parsed;
    count = std::max(count, published->size());
  }
  if (count > kMaxPortsPerPublish) {
    return std::unexpected(
        invalidPublish(flag, value,
                       fmt::format("it publishes {} ports; give at most {} in one value", count,
                                   kMaxPortsPerPublish)));
  }
  std::vector<api::PortConfig> ports;
  auto add = [&](std::int64_t targetPort, std::int64_t publishedPort) {
    ports.push_back(api::PortConfig{protocol, targetPort, publishedPort, "ingress"});
  };
  if (!published) {
    for (std::int64_t port = target->first; port <= target->last; ++port) {
      add(port, 0);
    }
    return ports;
  }
  if (published->size() == target->size()) {
    for (std::int64_t i = 0; i < target->size(); ++i) {
      add(target->first + i, published->first + i);
    }
  } else if (target->size() == 1) {
    // Docker's reading: every published port of the range goes to the one target.
    for (std::int64_t port = published->first; port <= published->last; ++port) {
      add(target->first, port);
    }
  } else {
    return std::unexpected(
        invalidPublish(flag, value,
                       fmt::format("the published range {} and the target range {} differ in size",
                                   publishedText, targetText)));
  }
  return ports;
}

bool sameTarget(const api::PortConfig& a, const api::PortConfig& b) {
  return a.targetPort == b.targetPort && a.protocol == b.protocol && a.publishMode == b.publishMode;
}

std::string publishedList(const std::vector<api::PortConfig>& ports) {
  if (ports.empty()) {
    return "none";
  }
  std::vector<std::string> texts;
  for (const auto& port : ports) {
    texts.push_back(publishSpecText(port));
  }
  return fmt::format("{}", fmt::join(texts, "; "));
}

}  // namespace

Result<std::vector<api::PortConfig>> parsePublishFlag(const std::string& flag,
                                                      const std::string& value) {
  if (value.find('=') != std::string::npos) {
    return parseLongForm(flag, value);
  }
  return parseShortForm(flag, value);
}

std::string publishSpecText(const api::PortConfig& port) {
  std::string published =
      port.publishedPort == 0 ? std::string() : fmt::format("published={},", port.publishedPort);
  return fmt::format("{}target={},protocol={},mode={}", published, port.targetPort, port.protocol,
                     port.publishMode);
}

Result<std::vector<api::PortConfig>> editPublishedPorts(const std::string& serviceName,
                                                        std::vector<api::PortConfig> ports,
                                                        const std::vector<std::string>& removals,
                                                        const std::vector<std::string>& additions) {
  const std::vector<api::PortConfig> before = ports;
  for (const auto& value : removals) {
    auto parsed = parsePublishFlag("--publish-rm", value);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    for (auto removal : *parsed) {
      // `--publish-rm 8080:80` removes only the port published as 8080 (Docker would take
      // every port with target 80 and ignore the 8080).
      auto matches = [&](const api::PortConfig& port) {
        return sameTarget(port, removal) &&
               (removal.publishedPort == 0 || port.publishedPort == removal.publishedPort);
      };
      bool published = std::any_of(before.begin(), before.end(), matches);
      // A bare port that is no target but a published port (`--publish-rm 8080` for
      // 8080:80) means that port: Docker's rule would refuse it, a user means it.
      if (!published && removal.publishedPort == 0) {
        for (const auto& port : before) {
          if (port.publishedPort == removal.targetPort && port.protocol == removal.protocol &&
              port.publishMode == removal.publishMode) {
            removal = port;
            published = true;
            break;
          }
        }
      }
      if (!published) {
        return errorf(ErrorKind::InvalidArgument,
                      "--publish-rm \"{}\" is not valid: service {} publishes no port with "
                      "target {}/{} in {} mode (--publish-rm names the target port, as in "
                      "Docker; the service publishes: {})",
                      value, serviceName, removal.targetPort, removal.protocol, removal.publishMode,
                      publishedList(before));
      }
      std::erase_if(ports, matches);
    }
  }
  for (const auto& value : additions) {
    auto parsed = parsePublishFlag("--publish-add", value);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    for (const auto& addition : *parsed) {
      if (std::find(ports.begin(), ports.end(), addition) != ports.end()) {
        continue;
      }
      auto samePublished = [&](const api::PortConfig& port) {
        return addition.publishedPort != 0 && port.publishedPort == addition.publishedPort &&
               port.protocol == addition.protocol;
      };
      auto existing = std::find_if(ports.begin(), ports.end(), samePublished);
      if (existing == ports.end()) {
        ports.push_back(addition);
        continue;
      }
      *existing = addition;
      // A spec the manager refused could hold the port twice; keep only the replacement.
      std::vector<api::PortConfig> kept;
      for (auto it = ports.begin(); it != ports.end(); ++it) {
        if (it <= existing || !samePublished(*it)) {
          kept.push_back(*it);
        }
      }
      ports = std::move(kept);
    }
  }
  return ports;
}

}  // namespace overmesh::cli
