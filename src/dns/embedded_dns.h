#pragma once

// What the agent sees of the embedded resolver: a sandbox is attached (sockets opened in
// its namespace on 127.0.0.11:53), detached, and every sandbox answers from the directory
// most recently set. The implementation is DnsServer (dns_server.h); tests of the agent can
// fake this interface.

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "dns/dns_directory.h"

namespace overmesh::dns {

class EmbeddedDns {
 public:
  virtual ~EmbeddedDns() = default;
  // Starts answering on 127.0.0.11:53, UDP and TCP, inside the network namespace at
  // netnsPath, for the sandbox of task `taskId` attached to `networkIds`. Idempotent
  // (a second call updates the network IDs). Needs lo up in that namespace.
  virtual Status attachSandbox(const std::string& taskId, const std::string& netnsPath,
                               const std::vector<std::string>& networkIds) = 0;
  virtual void detachSandbox(const std::string& taskId) = 0;  // closes its sockets
  virtual void setDirectory(std::shared_ptr<const DnsDirectory> directory) = 0;
};

}  // namespace overmesh::dns
