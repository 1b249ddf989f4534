#pragma once

// The local REST API (the CLI's, on the unix socket): routes, JSON in and out, error
// mapping. Behaviour lives in Daemon; this file only translates.

#include "api/http_server.h"

namespace overmesh::daemon {

class Daemon;

void registerLocalApi(api::HttpServer& server, Daemon& daemon);

}  // namespace overmesh::daemon
