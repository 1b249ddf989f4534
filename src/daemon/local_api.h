#pragma once

// The REST API's routes: JSON in and out, error mapping. Behaviour lives in Daemon;
// this file only translates.

#include <functional>
#include <string_view>

#include "api/http_server.h"
#include "api/stack_types.h"
#include "common/error.h"
#include "daemon/daemon.h"
#include "manager/task_manager.h"

namespace overmesh::daemon {

// Request decoders (public for the fuzz target): never throw; InvalidArgument naming the
// field otherwise.
Result<manager::RunRequest> decodeRunRequest(std::string_view body);
Result<SwarmJoinRequest> decodeSwarmJoinRequest(std::string_view body);
Result<manager::NodeUpdateRequest> decodeNodeUpdateRequest(std::string_view body);
Result<api::StackDeployRequest> decodeStackDeployRequest(std::string_view body);

// A cluster write: `handler` on a manager; on a worker (isWorker() true) the answer is
// FailedPrecondition api::kNotAManagerMessage and nothing runs (Docker's rule: cluster
// writes are made on managers; a worker's certificate could not make them anyway).
api::HttpHandler managerOnlyWrite(std::function<bool()> isWorker, api::HttpHandler handler);

// Every route, for the CLI on the local unix socket. Cluster-state writes made on a
// worker answer FailedPrecondition api::kNotAManagerMessage (Docker's rule).
void registerLocalApi(api::HttpServer& server, Daemon& daemon);

// Every member's node API: exec and logs of the tasks this node runs, for a manager
// (the listener admits manager certificates only).
void registerNodeApi(api::HttpServer& server, Daemon& daemon);

}  // namespace overmesh::daemon
