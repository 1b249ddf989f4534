#include "store/store_location.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/quote.h"

namespace overmesh::store {
namespace {

constexpr std::size_t kMaxStoreEndpoints = 16;
constexpr std::size_t kShownStoreBytes = 200;
constexpr std::string_view kEtcdScheme = "etcd://";
constexpr std::string_view kValidStoreForms =
    "valid: \"sqlite\" (the default) or \"etcd://HOST:PORT[,HOST:PORT...]\" "
    "(at most 16 etcd client endpoints, e.g. etcd://10.0.0.5:2379,10.0.0.6:2379)";

// A host part: an IPv4 address or a DNS name (letters, digits, '-', '.'). IPv6 literals
// are not accepted: etcd's own client URLs would need brackets we do not parse.
bool validStoreHost(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.front() == '-') {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

std::unexpected<Error> storeUrlError(std::string_view text, std::string_view problem) {
  return errorf(ErrorKind::InvalidArgument, "--store {}: {}; {}", quote(text, kShownStoreBytes),
                problem, kValidStoreForms);
}

// Checks one TLS path: set and readable as a regular file.
Status checkTlsFile(std::string_view flag, const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return errorf(ErrorKind::InvalidArgument, "{} {}: {}", flag, quote(path, kShownStoreBytes),
                  errnoText(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return errorf(ErrorKind::InvalidArgument, "{} {}: not a regular file (a PEM file is needed)",
                  flag, quote(path, kShownStoreBytes));
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return errorf(ErrorKind::InvalidArgument, "{} {}: cannot read it: {}", flag,
                  quote(path, kShownStoreBytes), errnoText(errno));
  }
  return {};
}

}  // namespace

std::string StoreLocation::url() const {
  if (kind == Kind::Sqlite) {
    return "sqlite";
  }
  return fmt::format("etcd://{}", fmt::join(endpoints, ","));
}

Result<StoreLocation> parseStoreUrl(std::string_view text) {
  if (text.empty() || text == "sqlite") {
    return StoreLocation{};
  }
  if (!text.starts_with(kEtcdScheme)) {
    return storeUrlError(text, "unknown store");
  }
  StoreLocation location;
  location.kind = StoreLocation::Kind::Etcd;
  std::string_view rest = text.substr(kEtcdScheme.size());
  if (rest.empty()) {
    return storeUrlError(text, "no etcd endpoint given");
  }
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view endpoint = rest.substr(0, comma);
    if (endpoint.empty()) {
      return storeUrlError(text, "an empty endpoint (two commas, or one at an end)");
    }
    std::size_t colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) {
      return storeUrlError(text, fmt::format("endpoint {} has no port (etcd's client port is "
                                             "usually 2379)",
                                             quote(endpoint)));
    }
    std::string_view host = endpoint.substr(0, colon);
    std::string_view portText = endpoint.substr(colon + 1);
    if (!validStoreHost(host)) {
      return storeUrlError(text, fmt::format("endpoint {}: the host must be an IPv4 address or "
                                             "a DNS name",
                                             quote(endpoint)));
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (portText.empty() || ec != std::errc{} || end != portText.data() + portText.size() ||
        port < 1 || port > 65535) {
      return storeUrlError(text, fmt::format("endpoint {}: the port must be a number from 1 "
                                             "to 65535",
                                             quote(endpoint)));
    }
    std::string normalized = fmt::format("{}:{}", host, port);
    if (std::find(location.endpoints.begin(), location.endpoints.end(), normalized) !=
        location.endpoints.end()) {
      return storeUrlError(text, fmt::format("endpoint {} is given twice", quote(normalized)));
    }
    if (location.endpoints.size() == kMaxStoreEndpoints) {
      return storeUrlError(text, fmt::format("more than {} endpoints", kMaxStoreEndpoints));
    }
    location.endpoints.push_back(std::move(normalized));
    if (comma == std::string_view::npos) {
      break;
    }
    rest = rest.substr(comma + 1);
  }
  return location;
}

Status checkStoreTls(const StoreLocation& location) {
  const struct {
    std::string_view flag;
    const std::string& path;
  } files[] = {{"--store-cacert", location.caFile},
               {"--store-cert", location.certFile},
               {"--store-key", location.keyFile}};
  bool anySet = false;
  bool allSet = true;
  for (const auto& file : files) {
    anySet = anySet || !file.path.empty();
    allSet = allSet && !file.path.empty();
  }
  if (!anySet) {
    return {};
  }
  if (!allSet) {
    for (const auto& file : files) {
      if (file.path.empty()) {
        return errorf(ErrorKind::InvalidArgument,
                      "{} is missing: etcd client TLS needs all three of --store-cacert, "
                      "--store-cert and --store-key (or none, for plain HTTP)",
                      file.flag);
      }
    }
  }
  if (!location.isEtcd()) {
    return errorf(ErrorKind::InvalidArgument,
                  "--store-cacert/--store-cert/--store-key are for an etcd store; add "
                  "--store etcd://HOST:PORT or drop them");
  }
  for (const auto& file : files) {
    if (auto status = checkTlsFile(file.flag, file.path); !status) {
      return status;
    }
  }
  return {};
}

}  // namespace overmesh::store
