#include "agent/sandbox_files.h"

#include "agent/task_spec.h"

namespace overmesh::agent {

std::string hostsFileFor(const api::Task& task) {
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& attachment : task.attachments) {
    hosts += attachment.address.substr(0, attachment.address.find('/')) + "\t" +
             taskHostname(task) + "\n";
  }
  return hosts;
}

std::string sandboxResolvConf() {
  // ndots:0 (Docker's choice for its embedded DNS too): a single-label name such as `web`
  // is asked as it is, not first with the host's search domains appended.
  return "nameserver 127.0.0.11\noptions ndots:0\n";
}

}  // namespace overmesh::agent
