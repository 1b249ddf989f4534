#pragma once

// Keeps what every local sandbox knows of services current: its embedded resolver (the
// DNS directory, and the sandbox's sockets on 127.0.0.11) and its load-balancer rules
// (the VIPs of the services on its networks, mapped to their live backends). The agent
// calls refresh() once per reconcile pass with the cache's objects, then prepare() for
// each sandbox: before its task starts (so its first lookup and first connection work)
// and on every pass after (a no-op unless something changed: the kernel seam and the
// resolver both skip what they already have).
//
// Both views are built once per cache revision, not once per sandbox: the directory and
// the load-balancer index are O(services + tasks) to build and O(1) per lookup.
//
// Thread: the agent's reconcile thread only.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/service_types.h"
#include "api/types.h"
#include "common/error.h"
#include "dataplane/mesh_plan.h"
#include "dataplane/node_kernel.h"
#include "dataplane/service_lb_plan.h"
#include "dns/embedded_dns.h"
#include "store/store.h"

namespace overmesh::agent {

class SandboxDiscovery {
 public:
  SandboxDiscovery(dataplane::NodeKernel& kernel, dns::EmbeddedDns& dns);

  // Rebuilds the resolver's directory and the load-balancer index when `revision` differs
  // from the last one seen.
  void refresh(store::Revision revision, const std::vector<api::Network>& networks,
               const std::vector<api::Service>& services, const std::vector<api::Task>& tasks,
               const std::vector<api::Node>& nodes);

  // Makes the resolver answer in `task`'s sandbox (namespace `sandbox`, file
  // `sandboxPath`), its load-balancer rules match the index, and its ingress side (when it
  // is a backend of a published port) match `mesh`. The ingress network is left out of
  // the resolver's and the balancer's networks: no names are answered there. Errors name
  // what failed; a task can still run without them (by addresses), so callers log them.
  Status prepare(const api::Task& task, const std::string& sandbox, const std::string& sandboxPath,
                 const dataplane::MeshIndex& mesh);

  // The sandbox is gone (or going): its sockets are closed and its rules forgotten.
  void forget(const std::string& taskId, const std::string& sandbox);

 private:
  dataplane::NodeKernel& kernel_;
  dns::EmbeddedDns& dns_;
  bool built_ = false;
  store::Revision revision_ = 0;
  dataplane::LbIndex index_;
  // The networks each sandbox's resolver was attached with, to skip unchanged attaches.
  std::map<std::string, std::vector<std::string>> attached_;
};

}  // namespace overmesh::agent
