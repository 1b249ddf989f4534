#include "manager/skopeo_image_resolver.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "common/bounded_command.h"
#include "common/secret_hash.h"

namespace overmesh::manager {
namespace {

// The registry spec's limit for a manifest; a bigger answer is not a manifest.
constexpr std::size_t kMaxManifestBytes = 4 << 20;
constexpr std::size_t kMaxReasonBytes = 300;

Result<std::string> inspectRaw(const SkopeoImageResolver::Options& options,
                               const RegistryCandidate& candidate) {
  BoundedCommand command;
  command.argv = {options.skopeo,
                  "--command-timeout",
                  fmt::format("{}ms", options.timeout.count()),
                  "inspect",
                  "--raw",
                  "--retry-times",
                  "0",
                  candidate.tlsVerify ? "--tls-verify=true" : "--tls-verify=false",
                  "docker://" + candidate.reference};
  // The candidates already say where to ask and how (mirrors, TLS): the machine's own
  // /etc/containers/registries.conf (its mirrors, blocks, rewrites) must not change what
  // is pinned, or the pin could differ from what the nodes, which use the cluster's
  // settings only, pull.
  command.env = {"CONTAINERS_REGISTRIES_CONF=/dev/null"};
  // skopeo's own timeout first; ours a little later, in case it hangs regardless.
  command.timeout = options.timeout + std::chrono::seconds(2);
  command.maxOutBytes = kMaxManifestBytes + 1;
  auto ran = runBoundedCommand(command);
  if (!ran) {
    return std::unexpected(ran.error());
  }
  if (ran->timedOut) {
    return errorf(ErrorKind::Unavailable, "{}: no answer within {}ms", candidate.reference,
                  options.timeout.count());
  }
  if (ran->exitCode != 0) {
    std::string reason = lastLine(ran->err, kMaxReasonBytes);
    return errorf(ErrorKind::Unavailable, "{}: {}", candidate.reference,
                  reason.empty() ? fmt::format("skopeo exited with {}", ran->exitCode) : reason);
  }
  if (ran->outTruncated || ran->out.size() > kMaxManifestBytes || ran->out.empty()) {
    return errorf(ErrorKind::Unavailable,
                  "{}: the registry's answer is not a manifest ({} bytes; at most {})",
                  candidate.reference, ran->out.size(), kMaxManifestBytes);
  }
  return "sha256:" + hashSecret(ran->out);  // hex SHA-256 of the bytes as served
}

}  // namespace

Result<std::string> SkopeoImageResolver::resolveDigest(const ImageReference& reference,
                                                       const api::RegistrySettings& settings) {
  std::vector<std::string> reasons;
  for (const auto& candidate : registryCandidates(reference, settings)) {
    auto digest = inspectRaw(options_, candidate);
    if (digest) {
      return digest;
    }
    if (digest.error().kind == ErrorKind::NotFound) {
      return errorf(ErrorKind::NotFound, "{} (is skopeo installed?)", digest.error().message);
    }
    spdlog::debug("image resolve: {}", digest.error().message);
    reasons.push_back(digest.error().message);
  }
  return errorf(ErrorKind::Unavailable, "{}", fmt::join(reasons, "; "));
}

}  // namespace overmesh::manager
