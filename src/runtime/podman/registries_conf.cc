#include "runtime/podman/registries_conf.h"

#include <fmt/format.h>

namespace overmesh::runtime::podman {
namespace {

constexpr std::size_t kMaxLocation = 255;

// Host names, IPv4 and bracketed IPv6 addresses, a port: nothing TOML would read as
// syntax inside a basic string.
bool validHostPort(std::string_view value) {
  return !value.empty() && value.size() <= kMaxLocation && value.front() != '-' &&
         value.front() != ':' &&
         value.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
             "0123456789.-:[]") == std::string_view::npos;
}

bool validPath(std::string_view path) {
  return path.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-/") ==
             std::string_view::npos &&
         path.find("//") == std::string_view::npos;
}

struct Mirror {
  std::string location;  // HOST[:PORT][/PATH], as registries.conf wants it
  bool insecure = false;
};

Result<Mirror> parseMirror(std::string_view url) {
  Mirror mirror;
  std::string_view rest;
  if (url.starts_with("http://")) {
    mirror.insecure = true;
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return errorf(ErrorKind::InvalidArgument,
                  "registry mirror \"{}\" is not valid: use http://HOST[:PORT] or "
                  "https://HOST[:PORT]",
                  url);
  }
  while (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (!validHostPort(host) || !validPath(path)) {
    return errorf(ErrorKind::InvalidArgument,
                  "registry mirror \"{}\" is not valid: the host may hold letters, digits, '.', "
                  "'-', ':' and '[]', the path lower-case letters, digits and '._-/'",
                  url);
  }
  mirror.location = std::string(rest);
  return mirror;
}

}  // namespace

Result<std::string> registriesConf(const api::RegistrySettings& settings) {
  std::string text =
      "# Written by overmeshd from the cluster's registry settings; changes are overwritten.\n"
      "unqualified-search-registries = [\"docker.io\"]\n";
  // docker.io gets one [[registry]] entry: two with one location is an error to podman.
  bool insecureDockerHub = false;
  for (const auto& registry : settings.insecureRegistries) {
    if (!validHostPort(registry)) {
      return errorf(ErrorKind::InvalidArgument,
                    "insecure registry \"{}\" is not valid: use HOST[:PORT] (letters, digits, "
                    "'.', '-', ':' and '[]')",
                    registry);
    }
    if (registry == "docker.io" && !settings.registryMirrors.empty()) {
      insecureDockerHub = true;
      continue;
    }
    text += fmt::format("\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n", registry);
  }
  if (!settings.registryMirrors.empty()) {
    text += "\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n";
    if (insecureDockerHub) {
      text += "insecure = true\n";
    }
    for (const auto& url : settings.registryMirrors) {
      auto mirror = parseMirror(url);
      if (!mirror) {
        return std::unexpected(mirror.error());
      }
      text += fmt::format("\n[[registry.mirror]]\nlocation = \"{}\"\n", mirror->location);
      if (mirror->insecure) {
        text += "insecure = true\n";
      }
    }
  }
  return text;
}

}  // namespace overmesh::runtime::podman
