#include "manager/registry_settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <vector>

#include "common/ip.h"
#include "common/quote.h"

namespace overmesh::manager {
namespace {

constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

std::string lowerCase(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lowered;
}

bool isDnsName(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) {
    return false;
  }
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string_view::npos) {
      end = host.size();
    }
    std::string_view label = host.substr(start, end - start);
    if (label.empty() || label.size() > kMaxLabelLength || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return false;
      }
    }
    start = end + 1;
  }
  return true;
}

bool looksNumeric(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](char c) {
    return c == '.' || std::isdigit(static_cast<unsigned char>(c));
  });
}

// "HOST[:PORT]" checked and normalised; std::nullopt with `why` set when it is not valid.
std::optional<std::string> normaliseHostPort(std::string_view text, std::string& why) {
  std::string_view host = text;
  std::string_view port;
  if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos || host.starts_with('[')) {
      why = "IPv6 addresses are not supported";
      return std::nullopt;
    }
  }
  std::string lowered = lowerCase(host);
  if (looksNumeric(lowered)) {
    if (!Ipv4Address::parse(lowered)) {
      why = "the host is not a dotted-quad IPv4 address";
      return std::nullopt;
    }
  } else if (!isDnsName(lowered)) {
    why = "the host is not a DNS name (letters, digits, '-' and '.') or an IPv4 address";
    return std::nullopt;
  }
  if (text.find(':') == std::string_view::npos) {
    return lowered;
  }
  int value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value < 1 ||
      value > 65535) {
    why = "the port is not a number from 1 to 65535";
    return std::nullopt;
  }
  return lowered + ":" + std::to_string(value);
}

template <typename Normalise>
Result<std::vector<std::string>> normaliseList(const std::vector<std::string>& entries,
                                               std::string_view flag, Normalise normalise) {
  std::vector<std::string> normalised;
  for (const auto& entry : entries) {
    auto value = normalise(entry);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (std::find(normalised.begin(), normalised.end(), *value) == normalised.end()) {
      normalised.push_back(std::move(*value));
    }
  }
  if (normalised.size() > kMaxRegistryEntries) {
    return errorf(ErrorKind::InvalidArgument,
                  "{}: {} different values given; at most {} are allowed", flag, normalised.size(),
                  kMaxRegistryEntries);
  }
  return normalised;
}

}  // namespace

Result<std::string> normaliseInsecureRegistry(std::string_view text) {
  std::string why;
  if (text.empty()) {
    why = "it is empty";
  } else if (text.find("://") != std::string_view::npos) {
    why = "give no scheme (the registry is used over plain HTTP)";
  } else if (text.find('/') != std::string_view::npos) {
    why = "give no path";
  } else if (auto normalised = normaliseHostPort(text, why)) {
    return *normalised;
  }
  return errorf(ErrorKind::InvalidArgument,
                "--insecure-registry {}: {}; expected HOST[:PORT], HOST a DNS name or an IPv4 "
                "address and PORT 1-65535 (e.g. 198.18.0.101:5000)",
                quote(text), why);
}

Result<std::string> normaliseRegistryMirror(std::string_view text) {
  std::string why;
  std::string scheme;
  std::string_view rest;
  std::string lowered = lowerCase(text.substr(0, std::min<std::size_t>(text.size(), 8)));
  if (lowered.starts_with("http://")) {
    scheme = "http://";
  } else if (lowered.starts_with("https://")) {
    scheme = "https://";
  }
  if (scheme.empty()) {
    why = "it does not start with http:// or https://";
  } else {
    rest = text.substr(scheme.size());
    if (rest.ends_with('/')) {
      rest.remove_suffix(1);
    }
    if (rest.find_first_of("/?#@") != std::string_view::npos) {
      why = "give no path, query or credentials";
    } else if (rest.empty()) {
      why = "the host is missing";
    } else if (auto hostPort = normaliseHostPort(rest, why)) {
      return scheme + *hostPort;
    }
  }
  return errorf(ErrorKind::InvalidArgument,
                "--registry-mirror {}: {}; expected http://HOST[:PORT] or https://HOST[:PORT] "
                "(e.g. http://198.18.0.101:5000)",
                quote(text), why);
}

Result<api::RegistrySettings> normaliseRegistrySettings(const api::RegistrySettings& settings) {
  auto insecure =
      normaliseList(settings.insecureRegistries, "--insecure-registry", normaliseInsecureRegistry);
  if (!insecure) {
    return std::unexpected(insecure.error());
  }
  auto mirrors =
      normaliseList(settings.registryMirrors, "--registry-mirror", normaliseRegistryMirror);
  if (!mirrors) {
    return std::unexpected(mirrors.error());
  }
  return api::RegistrySettings{std::move(*insecure), std::move(*mirrors)};
}

Result<api::RegistrySettings> applySwarmUpdate(const api::RegistrySettings& current,
                                               const api::SwarmUpdateRequest& request) {
  api::RegistrySettings wanted = current;
  if (request.insecureRegistries) {
    wanted.insecureRegistries = *request.insecureRegistries;
  }
  if (request.registryMirrors) {
    wanted.registryMirrors = *request.registryMirrors;
  }
  return normaliseRegistrySettings(wanted);
}

MirrorEndpoint mirrorEndpoint(std::string_view normalisedMirror) {
  MirrorEndpoint endpoint;
  std::string_view rest = normalisedMirror;
  if (rest.starts_with("http://")) {
    endpoint.plainHttp = true;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  }
  endpoint.host = std::string(rest);
  return endpoint;
}

}  // namespace overmesh::manager
