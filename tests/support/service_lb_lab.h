#pragma once

// A lab for the VIP load balancer, for kernel tests and benchmarks: a client and N backends,
// each in a network namespace of its own, joined by a bridge in a hub namespace, all on
// 10.77.0.0/24 (client 10.77.0.10, backends 10.77.0.21, .22, …). Nothing in the machine's
// own namespace. Needs root.

#include <string>
#include <vector>

#include "common/error.h"
#include "common/ip.h"

namespace overmesh::testing {

class ServiceLbLab {
 public:
  // Names the namespaces "<prefix>h", "<prefix>c", "<prefix>b0"…; creates nothing yet.
  ServiceLbLab(std::string prefix, int backendCount);
  // Deletes every namespace create() made (their devices go with them).
  ~ServiceLbLab();
  ServiceLbLab(const ServiceLbLab&) = delete;
  ServiceLbLab& operator=(const ServiceLbLab&) = delete;

  // Creates the namespaces, the bridge and one veth per member, addresses, links up.
  // On failure, what was made is still deleted by the destructor.
  Status create();

  const std::string& client() const { return client_; }
  const std::vector<std::string>& backends() const { return backends_; }
  static Ipv4Address clientAddress();
  static Ipv4Address backendAddress(int index);

 private:
  std::string hub_;
  std::string client_;
  std::vector<std::string> backends_;
  std::vector<std::string> created_;
};

}  // namespace overmesh::testing
