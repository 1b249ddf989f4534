#pragma once

// Docker's network rules for `stack deploy` (issue 11), pure: given the networks a stack
// uses and the cluster's networks, which to create and which to use, or why the deploy
// must not happen. Messages keep Docker's wording where Docker has one and add the way out:
//   external missing:
//     network "X" is declared as external, but could not be found. You need to create a
//     swarm-scoped network before the stack is deployed: overmesh network create -d
//     overlay X  (declared at web.yml:14)
//   external but not joinable (the ingress network):
//     network "ingress" is declared as external, but it is the routing mesh's ingress
//     network: services join it by publishing a port (ports:), not by name
//   to create, name taken without this stack's label:
//     network with name X already exists (not created by stack S). To share it, declare it
//     external (networks: KEY: external: true, name: X); to get a network of the stack's
//     own, give it another name: (declared at web.yml:14)
// Network names are one namespace in overmesh whatever the driver, so Docker's "2 matches
// found … ambiguous" cannot arise: the name check above refuses it first.

#include <string>
#include <vector>

#include "api/stack_types.h"
#include "common/error.h"

namespace overmesh::manager {

struct StackNetworkPlan {
  std::vector<api::NetworkCreateRequest> toCreate;  // in request order
  std::vector<std::string> reused;                  // names: exist with this stack's label
  std::vector<std::string> external;                // names: exist, declared external
};

// InvalidArgument (a malformed request), NotFound (external missing), Conflict (name taken),
// FailedPrecondition (external network not joinable). All problems found are reported in
// one error, one line each, so the user fixes the file once.
Result<StackNetworkPlan> planStackNetworks(const std::string& stack,
                                           const std::vector<api::StackNetwork>& declared,
                                           const std::vector<api::Network>& existing);

}  // namespace overmesh::manager
