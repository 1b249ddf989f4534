#pragma once

// A node's key material on disk, in <state-dir>/pki (0700), every file written
// atomically with mode 0600 (common/atomic_file.h):
//   ca.pem        the cluster CA's certificate (every member)
//   node.key      this node's private key (never leaves the node)
//   node.pem      this node's certificate, signed by the CA
//   ca.key        the CA's private key (managers only)
//   worker.token  the clear worker join token (managers only; the store keeps hashes)
//   manager.token the clear manager join token (managers only)
//
// NodePki is the one in-memory copy the daemon's threads share: thread-safe; readers take
// an immutable snapshot (std::shared_ptr<const NodeCredentials>) and a renewal swaps in a
// new one, so a TLS client or server built from the old snapshot keeps working until it
// is rebuilt. Pointer identity of the snapshot is its generation: a component that built a
// client from snapshot S rebuilds it once current() returns another pointer.

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/error.h"
#include "security/pki.h"

namespace overmesh::security {

struct NodeCredentials {
  std::string caCertPem;
  std::string certPem;
  std::string keyPem;
  CertificateInfo cert;  // inspectCertificate(certPem)
};

class NodePki {
 public:
  // Loads <stateDir>/pki: nullopt-equivalent (NotFound) when the directory holds no
  // node.pem yet; Unavailable/InvalidArgument naming the file otherwise.
  static Result<std::unique_ptr<NodePki>> load(const std::string& stateDir);
  // Writes ca.pem, node.key, node.pem (creating pki/ 0700) and returns the loaded PKI.
  // Checks that the key matches the certificate and the certificate chains to the CA.
  static Result<std::unique_ptr<NodePki>> create(const std::string& stateDir,
                                                 const std::string& caCertPem,
                                                 const std::string& keyPem,
                                                 const std::string& certPem);
  // Removes <stateDir>/pki and everything in it (swarm leave). Unavailable naming what
  // remains.
  static Status remove(const std::string& stateDir);

  // The credentials now in use (never null).
  std::shared_ptr<const NodeCredentials> current() const;
  // A renewed certificate (and the key it was requested with): checked as in create(),
  // written to disk (key first, then certificate), then made current.
  Status replace(const std::string& keyPem, const std::string& certPem);

  // Manager-only files: the CA's key, and the clear join tokens.
  Status saveCaKey(const std::string& keyPem);
  Result<std::string> caKey() const;  // NotFound on a worker
  Status saveToken(std::string_view role, const std::string& token);  // "worker"|"manager"
  Result<std::string> token(std::string_view role) const;             // NotFound if absent

  const std::string& directory() const { return dir_; }

 private:
  explicit NodePki(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  // Serialises writers of the files (replace, saveCaKey, saveToken) without making
  // current() wait for a disk write.
  std::mutex writeMutex_;
  mutable std::mutex mutex_;
  std::shared_ptr<const NodeCredentials> current_;  // guarded by mutex_
};

}  // namespace overmesh::security
