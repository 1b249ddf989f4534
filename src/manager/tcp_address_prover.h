#pragma once

// The real AddressProver: a TCP connection from the manager to the joining node's proof
// port (non-blocking connect and reads against one deadline, so a silent or slow peer
// costs the join at most the timeout).

#include "manager/join_address.h"

namespace overmesh::manager {

class TcpAddressProver final : public AddressProver {
 public:
  // Unavailable with the errno text for a refused or unreachable address, or when the
  // deadline passes before a byte arrives; whatever arrived when the peer closes, 64
  // bytes are in, or the deadline passes after some bytes.
  Result<std::string> readProof(const std::string& address, std::uint16_t port,
                                std::chrono::milliseconds timeout) override;
};

}  // namespace overmesh::manager
