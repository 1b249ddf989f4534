#include "manager/join_address.h"

#include <algorithm>

#include "api/cluster_protocol.h"
#include "common/quote.h"
#include "common/secret_hash.h"
#include "manager/node_manager.h"

namespace overmesh::manager {
namespace {

bool isLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

Status checkJoinAddress(const JoinRequest& request, AddressProver* prover) {
  if (!request.sourceAddress.empty() && request.sourceAddress == request.address) {
    return {};
  }
  std::string source = request.sourceAddress.empty() ? "an unknown address" : request.sourceAddress;
  if (!request.advertiseAddrGiven) {
    return errorf(ErrorKind::Unauthenticated,
                  "swarm join: the node says its address is {} but connects from {}; join from "
                  "a node whose address toward the manager is {}, or give --advertise-addr {} "
                  "if the manager can reach it there",
                  request.address, source, request.address, request.address);
  }
  if (request.addressProof.size() != kAddressProofLength ||
      !std::all_of(request.addressProof.begin(), request.addressProof.end(), isLowerHex)) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm join: field \"addressProof\" {} is not valid: expected {} lower-case "
                  "hex digits",
                  quote(request.addressProof, 80), kAddressProofLength);
  }
  if (request.proofPort < 1 || request.proofPort > 65535) {
    return errorf(ErrorKind::InvalidArgument,
                  "swarm join: field \"proofPort\" {} is not valid: expected a TCP port from 1 "
                  "to 65535",
                  request.proofPort);
  }
  auto refused = [&](std::string_view why) {
    return errorf(ErrorKind::Unauthenticated,
                  "swarm join: the node says its address is {} (--advertise-addr) but connects "
                  "from {}, and the manager could not confirm it at {}:{} ({}); give the "
                  "address the manager reaches the node at, and let TCP port {} through",
                  request.address, source, request.address, request.proofPort, why,
                  request.proofPort);
  };
  if (prover == nullptr) {
    return refused("no way to check it on this manager");
  }
  auto read = prover->readProof(request.address, static_cast<std::uint16_t>(request.proofPort),
                                api::kAddressProofTimeout);
  if (!read) {
    return refused(read.error().message);
  }
  if (!constantTimeEquals(*read, request.addressProof)) {
    return refused("another proof was read there");
  }
  return {};
}

}  // namespace overmesh::manager
