#pragma once

// The joining node's half of the address proof (api/cluster_protocol.h, join step 3):
// when a node joins with --advertise-addr and connects to the manager from another
// address, the manager connects back to the advertised address on the node's node port
// and must read there the random proof the node put in its join request. For the
// duration of the join the node serves that proof from a plain TCP listener; every
// connection gets the proof and is closed. Nothing else is read or written.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/error.h"

namespace overmesh::daemon {

// 32 lower-case hex digits from the kernel's random source (getrandom). Unavailable
// when that fails.
Result<std::string> makeAddressProof();

class AddressProofServer {
 public:
  // Listens on `address`:`port` (port 0: any; see port()) and serves `proof` until
  // stop(). Unavailable naming the address when it cannot listen.
  static Result<std::unique_ptr<AddressProofServer>> start(const std::string& address,
                                                           std::uint16_t port, std::string proof);
  ~AddressProofServer();
  AddressProofServer(const AddressProofServer&) = delete;
  AddressProofServer& operator=(const AddressProofServer&) = delete;

  // Closes the listener and waits for the thread. Idempotent.
  void stop();
  std::uint16_t port() const { return port_; }
  // How many connections were answered.
  int served() const { return served_.load(); }

 private:
  AddressProofServer(int listenFd, int wakeFd, std::uint16_t port, std::string proof);
  void run();

  int listenFd_;
  int wakeFd_;  // an eventfd: written by stop() to end the thread's poll
  std::uint16_t port_;
  std::string proof_;
  std::atomic<int> served_{0};
  std::thread thread_;
};

}  // namespace overmesh::daemon
