#pragma once

// The files a task's sandbox gets besides its command: /etc/hosts and /etc/resolv.conf.

#include <string>

#include "api/types.h"

namespace overmesh::agent {

// localhost, and the task's name on each of its attachment addresses.
std::string hostsFileFor(const api::Task& task);

// The host's resolvers until the embedded DNS exists (the DNS issue replaces this with
// nameserver 127.0.0.11). Empty when /etc/resolv.conf cannot be read.
std::string hostResolvConf();

}  // namespace overmesh::agent
