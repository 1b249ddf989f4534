#pragma once

// The files a task's sandbox gets besides its command: /etc/hosts and /etc/resolv.conf.

#include <string>

#include "api/types.h"

namespace overmesh::agent {

// localhost, and the task's hostname (taskHostname) on each of its attachment addresses.
std::string hostsFileFor(const api::Task& task);

// The embedded resolver the agent answers at 127.0.0.11 in every sandbox (it forwards
// names that are not the cluster's to the node's own resolvers).
std::string sandboxResolvConf();

}  // namespace overmesh::agent
