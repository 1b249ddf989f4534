#include "agent/sandbox_files.h"

#include <cstdio>

namespace overmesh::agent {

std::string hostsFileFor(const api::Task& task) {
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& attachment : task.attachments) {
    hosts += attachment.address.substr(0, attachment.address.find('/')) + "\t" + task.name + "\n";
  }
  return hosts;
}

std::string hostResolvConf() {
  std::FILE* file = std::fopen("/etc/resolv.conf", "r");
  if (file == nullptr) {
    return "";
  }
  std::string content;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    content.append(buffer, n);
  }
  std::fclose(file);
  return content;
}

}  // namespace overmesh::agent
