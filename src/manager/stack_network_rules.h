#pragma once

// Docker's network rules for `stack deploy` (issue 11), pure: given the networks a stack
// uses and the cluster's networks, which to create and which to use, or why the deploy
// must not happen. Messages keep Docker's wording where Docker has one, add the way out,
// and end with where the network is in the file: " (networks.KEY declared at FILE:LINE)",
// or for the implicit default network the services that use it
// (" (networks.default: the stack's default network, used by services web_api, web_web)"):
//   external missing:
//     network "X" is declared as external, but could not be found. You need to create a
//     swarm-scoped network before the stack is deployed: overmesh network create -d
//     overlay X (networks.default declared at web.yml:14)
//   external and one of Docker's predefined networks (host, bridge, none):
//     network "host" is Docker's host networking: overmesh tasks always run in a sandbox
//     of their own; remove it from the stack's networks (networks.hostnet declared at …)
//   two keys naming one network (the converter refuses it too; the same rule):
//     network "X" is named by networks.a and networks.b: two keys cannot name one
//     network: give one of them a different name: (networks.b declared at …)
//   external but not joinable (the ingress network):
//     network "ingress" is declared as external, but it is the routing mesh's ingress
//     network: services join it by publishing a port (ports:), not by name
//   to create, name taken without this stack's label:
//     network with name X already exists (not created by stack S). To share it, declare it
//     external (networks: KEY: external: true, name: X); to get a network of the stack's
//     own, give it another name: (networks.KEY declared at web.yml:14)
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

// `services` (the request's) only name the users of the implicit default network in
// messages. InvalidArgument (a malformed request, two keys naming one network), NotFound
// (external missing), Conflict (name taken), FailedPrecondition (external network not
// joinable, or Docker's host/bridge/none). All problems found are reported in one error,
// one line each, so the user fixes the file once.
Result<StackNetworkPlan> planStackNetworks(const std::string& stack,
                                           const std::vector<api::StackNetwork>& declared,
                                           const std::vector<api::Network>& existing,
                                           const std::vector<api::ServiceSpec>& services);

}  // namespace overmesh::manager
