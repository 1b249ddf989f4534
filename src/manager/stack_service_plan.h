#pragma once

// Which services a `stack deploy` creates, updates, leaves alone and (with --prune)
// removes (issue 11), pure. A desired spec is compared with the stored one after the
// image is decided (the manager resolves it per --resolve-image first): equal specs are
// left untouched (no write: their updateIndex and tasks stay), so that deploying the same
// file twice changes nothing.

#include <map>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "common/error.h"

namespace overmesh::manager {

struct StackServicePlan {
  std::vector<api::ServiceSpec> toCreate;
  struct Update {
    std::string serviceId;
    std::int64_t updateIndex = 0;  // of the stored service, for the CAS
    api::ServiceSpec spec;
    api::ServiceSpec previous;  // the stored spec: what a rolled-back deploy writes back
  };
  std::vector<Update> toUpdate;
  std::vector<std::string> unchanged;  // names
  std::vector<std::string> toRemove;   // IDs of the stack's services not desired (prune)
};

// `desired` holds the specs in the form a record holds them (storedServiceSpec, which the
// manager runs once per service per deploy, after deciding the image), so that "web:1"
// equals the stored "docker.io/library/web:1" and a redeploy of the same file writes
// nothing. `existing` is every service in the cluster. Conflict when a desired name
// belongs to a service that does not carry this stack's namespace label (naming it and
// the way out: remove it, or deploy under another stack name). InvalidArgument when a
// desired spec changes a service's mode (Docker refuses that too: remove the service
// first) or a name is given twice. Each problem about a service starts with where the
// file declared it (`sources`, see withServiceSource).
Result<StackServicePlan> planStackServices(const std::string& stack,
                                           const std::vector<api::ServiceSpec>& desired,
                                           const std::vector<api::Service>& existing, bool prune,
                                           const std::map<std::string, std::string>& sources = {});

// `message` about the service `name`, prefixed with where the file declared it when
// `sources` (StackDeployRequest::serviceSources) knows: "web.yml:12: services.api: " +
// message. A refusal found only on the manager then still names the file, line and key.
std::string withServiceSource(const std::map<std::string, std::string>& sources,
                              const std::string& name, const std::string& message);

}  // namespace overmesh::manager
