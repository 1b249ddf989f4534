#include "manager/image_resolver.h"

#include <algorithm>

#include "manager/registry_settings.h"

namespace overmesh::manager {
namespace {

constexpr std::string_view kDockerHub = "docker.io";

bool isInsecure(const api::RegistrySettings& settings, std::string_view host) {
  return std::find(settings.insecureRegistries.begin(), settings.insecureRegistries.end(), host) !=
         settings.insecureRegistries.end();
}

}  // namespace

std::vector<RegistryCandidate> registryCandidates(const ImageReference& reference,
                                                  const api::RegistrySettings& settings) {
  std::string tail = reference.path + ":" + reference.tag;
  std::vector<RegistryCandidate> candidates;
  if (reference.domain == kDockerHub) {
    for (const auto& mirror : settings.registryMirrors) {
      MirrorEndpoint endpoint = mirrorEndpoint(mirror);
      candidates.push_back({endpoint.host + "/" + tail,
                            !endpoint.plainHttp && !isInsecure(settings, endpoint.host)});
    }
  }
  candidates.push_back({reference.domain + "/" + tail, !isInsecure(settings, reference.domain)});
  return candidates;
}

}  // namespace overmesh::manager
