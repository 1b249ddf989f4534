#pragma once

// Whether a joining node may have the address it claims (api/cluster_protocol.h, step 3):
// the connection's source must be that address; otherwise, only when the node was given
// --advertise-addr, the manager connects to that address and must read there the proof
// the node sent with its join. The decision is pure (checkJoinAddress); the connection is
// an injected AddressProver, so that tests need no network (TcpAddressProver is the real
// one).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"

namespace overmesh::manager {

struct JoinRequest;

// The most the manager reads from a node's proof port; a proof is 32 hex digits.
inline constexpr std::size_t kMaxAddressProofBytes = 64;
inline constexpr std::size_t kAddressProofLength = 32;

class AddressProver {
 public:
  virtual ~AddressProver() = default;
  // What `address`:`port` (an IPv4 dotted quad) sends within `timeout`: at most
  // kMaxAddressProofBytes, until the peer closes. Unavailable when nothing can be read
  // (no connection, refused, timed out before a byte).
  virtual Result<std::string> readProof(const std::string& address, std::uint16_t port,
                                        std::chrono::milliseconds timeout) = 0;
};

// Checks `request.address` against `request.sourceAddress`, and when they differ and
// request.advertiseAddrGiven, against what `prover` (may be null: nothing can be proven)
// reads at request.address:request.proofPort within api::kAddressProofTimeout.
// InvalidArgument naming the field for a malformed addressProof or proofPort;
// Unauthenticated naming both addresses and what to do otherwise.
Status checkJoinAddress(const JoinRequest& request, AddressProver* prover);

}  // namespace overmesh::manager
