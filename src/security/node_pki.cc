#include "security/node_pki.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/atomic_file.h"
#include "security/join_token.h"

namespace overmesh::security {
namespace {

constexpr mode_t kDirectoryMode = 0700;
constexpr mode_t kFileMode = 0600;
constexpr std::string_view kCaCertFile = "ca.pem";
constexpr std::string_view kCaKeyFile = "ca.key";
constexpr std::string_view kNodeKeyFile = "node.key";
constexpr std::string_view kNodeCertFile = "node.pem";
// The key in use before a renewal, kept while replace() writes the new key and
// certificate: after a crash between the two writes, load() finds the old certificate's
// key here and the node keeps its (still valid) old pair.
constexpr std::string_view kPreviousKeyFile = "node.key.prev";

std::string pkiPath(const std::string& dir, std::string_view file) {
  return fmt::format("{}/{}", dir, file);
}

// Reads a small file of ours: NotFound when absent; Unavailable naming the path when it
// cannot be read; InvalidArgument when it is not a regular file or is larger than any
// file we write (kMaxPemBytes).
Result<std::string> readPkiFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return errorf(ErrorKind::NotFound, "{} does not exist", path);
    }
    return errorf(ErrorKind::Unavailable, "open {}: {}", path, errnoText(err));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    int err = errno;
    ::close(fd);
    return errorf(ErrorKind::Unavailable, "stat {}: {}", path, errnoText(err));
  }
  if (!S_ISREG(info.st_mode) || static_cast<std::size_t>(info.st_size) > kMaxPemBytes) {
    ::close(fd);
    return errorf(ErrorKind::InvalidArgument, "{} is not a regular file of at most {} bytes", path,
                  kMaxPemBytes);
  }
  std::string content(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::read(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return errorf(ErrorKind::Unavailable, "read {}: {}", path, errnoText(err));
    }
    if (n == 0) {
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  content.resize(done);
  return content;
}

// Creates <dir> with mode 0700, or brings an existing one back to 0700.
Status ensurePrivateDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), kDirectoryMode) != 0 && errno != EEXIST) {
    return errorf(ErrorKind::Unavailable, "mkdir {}: {}", dir, errnoText(errno));
  }
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0) {
    return errorf(ErrorKind::Unavailable, "stat {}: {}", dir, errnoText(errno));
  }
  if (!S_ISDIR(info.st_mode)) {
    return errorf(ErrorKind::Unavailable, "{} exists and is not a directory", dir);
  }
  if (::chmod(dir.c_str(), kDirectoryMode) != 0) {
    return errorf(ErrorKind::Unavailable, "chmod 0700 {}: {}", dir, errnoText(errno));
  }
  return {};
}

Status removeIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return errorf(ErrorKind::Unavailable, "unlink {}: {}", path, errnoText(errno));
  }
  return {};
}

Status checkRole(std::string_view role) {
  if (role != "worker" && role != "manager") {
    return errorf(ErrorKind::InvalidArgument,
                  "join token role {:?} is not valid; expected "
                  "worker or manager",
                  role);
  }
  return {};
}

// The checks create() and replace() make before anything is written: the certificate
// chains to the CA and is valid now, and the key is the certificate's.
Result<CertificateInfo> checkNodePair(const std::string& caCertPem, const std::string& keyPem,
                                      const std::string& certPem) {
  // ca.pem is every TLS context's trust list: one CA and nothing else, or a second
  // certificate in it would be trusted without ever having been pinned by a token.
  if (auto single = singleCaCertificate(caCertPem); !single) {
    return std::unexpected(single.error().withContext("cluster CA"));
  }
  auto info = verifyNodeCertificate(certPem, caCertPem, std::chrono::system_clock::now());
  if (!info) {
    return std::unexpected(info.error().withContext("node certificate"));
  }
  auto matches = keyMatchesCertificate(keyPem, certPem);
  if (!matches) {
    return std::unexpected(matches.error().withContext("node key"));
  }
  if (!*matches) {
    return errorf(ErrorKind::InvalidArgument,
                  "the node key is not the key of the node certificate for {}",
                  info->identity.nodeId);
  }
  return info;
}

}  // namespace

Result<std::unique_ptr<NodePki>> NodePki::load(const std::string& stateDir) {
  std::string dir = pkiPath(stateDir, "pki");
  auto certPem = readPkiFile(pkiPath(dir, kNodeCertFile));
  if (!certPem) {
    if (certPem.error().kind == ErrorKind::NotFound) {
      return errorf(ErrorKind::NotFound,
                    "{} holds no node certificate (this node has not "
                    "joined a swarm)",
                    dir);
    }
    return std::unexpected(certPem.error());
  }
  auto caPem = readPkiFile(pkiPath(dir, kCaCertFile));
  auto keyPem = readPkiFile(pkiPath(dir, kNodeKeyFile));
  if (!caPem || !keyPem) {
    Error error = !caPem ? caPem.error() : keyPem.error();
    if (error.kind == ErrorKind::NotFound) {
      error.kind = ErrorKind::Unavailable;  // half a PKI directory is damage, not absence
    }
    return std::unexpected(error);
  }
  auto info = inspectCertificate(*certPem);
  if (!info) {
    return std::unexpected(info.error().withContext(pkiPath(dir, kNodeCertFile)));
  }
  if (auto single = singleCaCertificate(*caPem); !single) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", pkiPath(dir, kCaCertFile),
                  single.error().message);
  }
  // Signed by our CA? Checked at a time inside the certificate's own validity: an expired
  // certificate still loads (its renewal or a new join replaces it), a foreign one does not.
  TimePoint inside = info->notBefore + (info->notAfter - info->notBefore) / 2;
  if (auto chained = verifyNodeCertificate(*certPem, *caPem, inside); !chained) {
    return errorf(ErrorKind::InvalidArgument, "{}: {}", pkiPath(dir, kNodeCertFile),
                  chained.error().message);
  }

  auto matches = keyMatchesCertificate(*keyPem, *certPem);
  if (!matches) {
    return std::unexpected(matches.error().withContext(pkiPath(dir, kNodeKeyFile)));
  }
  std::string previousPath = pkiPath(dir, kPreviousKeyFile);
  if (!*matches) {
    // A renewal that stopped after writing the new key: the old key is still in .prev.
    auto previous = readPkiFile(previousPath);
    auto previousMatches =
        previous ? keyMatchesCertificate(*previous, *certPem) : Result<bool>(false);
    if (!previousMatches || !*previousMatches) {
      return errorf(ErrorKind::InvalidArgument, "{} is not the key of {}",
                    pkiPath(dir, kNodeKeyFile), pkiPath(dir, kNodeCertFile));
    }
    if (auto s = writeFileAtomically(pkiPath(dir, kNodeKeyFile), *previous, kFileMode); !s) {
      return std::unexpected(s.error());
    }
    keyPem = std::move(*previous);
  }
  if (auto s = removeIfPresent(previousPath); !s) {
    return std::unexpected(s.error());
  }

  std::unique_ptr<NodePki> pki(new NodePki(dir));
  pki->current_ = std::make_shared<const NodeCredentials>(NodeCredentials{
      std::move(*caPem), std::move(*certPem), std::move(*keyPem), std::move(*info)});
  return pki;
}

Result<std::unique_ptr<NodePki>> NodePki::create(const std::string& stateDir,
                                                 const std::string& caCertPem,
                                                 const std::string& keyPem,
                                                 const std::string& certPem) {
  auto info = checkNodePair(caCertPem, keyPem, certPem);
  if (!info) {
    return std::unexpected(info.error());
  }
  std::string dir = pkiPath(stateDir, "pki");
  if (auto s = ensurePrivateDirectory(dir); !s) {
    return std::unexpected(s.error());
  }
  // The certificate last: load() treats a directory without node.pem as "not joined".
  for (auto [file, content] : {std::pair{kCaCertFile, &caCertPem}, std::pair{kNodeKeyFile, &keyPem},
                               std::pair{kNodeCertFile, &certPem}}) {
    if (auto s = writeFileAtomically(pkiPath(dir, file), *content, kFileMode); !s) {
      return std::unexpected(s.error());
    }
  }
  if (auto s = removeIfPresent(pkiPath(dir, kPreviousKeyFile)); !s) {
    return std::unexpected(s.error());
  }
  std::unique_ptr<NodePki> pki(new NodePki(dir));
  pki->current_ = std::make_shared<const NodeCredentials>(
      NodeCredentials{caCertPem, certPem, keyPem, std::move(*info)});
  return pki;
}

Status NodePki::remove(const std::string& stateDir) {
  std::string dir = pkiPath(stateDir, "pki");
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error) {
    return errorf(ErrorKind::Unavailable, "removing {}: {}", dir, error.message());
  }
  if (std::filesystem::exists(std::filesystem::symlink_status(dir))) {
    return errorf(ErrorKind::Unavailable, "{} still exists after removing it", dir);
  }
  return {};
}

std::shared_ptr<const NodeCredentials> NodePki::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

Status NodePki::replace(const std::string& keyPem, const std::string& certPem) {
  std::lock_guard writing(writeMutex_);
  std::shared_ptr<const NodeCredentials> old = current();
  auto info = checkNodePair(old->caCertPem, keyPem, certPem);
  if (!info) {
    return std::unexpected(info.error());
  }
  if (info->identity.nodeId != old->cert.identity.nodeId ||
      info->identity.clusterId != old->cert.identity.clusterId) {
    return errorf(ErrorKind::InvalidArgument,
                  "the renewed certificate is for node {} of cluster {}; this node is {} of {}",
                  info->identity.nodeId, info->identity.clusterId, old->cert.identity.nodeId,
                  old->cert.identity.clusterId);
  }
  std::string previousPath = pkiPath(dir_, kPreviousKeyFile);
  for (auto [path, content] :
       {std::pair{previousPath, &old->keyPem}, std::pair{pkiPath(dir_, kNodeKeyFile), &keyPem},
        std::pair{pkiPath(dir_, kNodeCertFile), &certPem}}) {
    if (auto s = writeFileAtomically(path, *content, kFileMode); !s) {
      return s;
    }
  }
  auto next = std::make_shared<const NodeCredentials>(
      NodeCredentials{old->caCertPem, certPem, keyPem, std::move(*info)});
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }
  // The new pair is on disk; a leftover .prev would only be removed by the next load().
  return removeIfPresent(previousPath);
}

Status NodePki::saveCaKey(const std::string& keyPem) {
  std::lock_guard writing(writeMutex_);
  auto matches = keyMatchesCertificate(keyPem, current()->caCertPem);
  if (!matches) {
    return std::unexpected(matches.error().withContext("CA key"));
  }
  if (!*matches) {
    return errorf(ErrorKind::InvalidArgument, "the CA key is not the key of {}",
                  pkiPath(dir_, kCaCertFile));
  }
  return writeFileAtomically(pkiPath(dir_, kCaKeyFile), keyPem, kFileMode);
}

Result<std::string> NodePki::caKey() const {
  auto key = readPkiFile(pkiPath(dir_, kCaKeyFile));
  if (!key && key.error().kind == ErrorKind::NotFound) {
    return errorf(ErrorKind::NotFound, "{} does not exist (only a manager holds the CA key)",
                  pkiPath(dir_, kCaKeyFile));
  }
  return key;
}

Status NodePki::saveToken(std::string_view role, const std::string& token) {
  if (auto s = checkRole(role); !s) {
    return s;
  }
  auto parsed = parseJoinToken(token);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  auto fingerprint = certificateFingerprint(current()->caCertPem);
  if (!fingerprint) {
    return std::unexpected(fingerprint.error().withContext(pkiPath(dir_, kCaCertFile)));
  }
  if (parsed->caFingerprint != *fingerprint) {
    return errorf(ErrorKind::InvalidArgument,
                  "the {} join token pins CA fingerprint {}, but this node's CA ({}) has {}", role,
                  parsed->caFingerprint, pkiPath(dir_, kCaCertFile), *fingerprint);
  }
  std::lock_guard writing(writeMutex_);
  return writeFileAtomically(pkiPath(dir_, fmt::format("{}.token", role)), token, kFileMode);
}

Result<std::string> NodePki::token(std::string_view role) const {
  if (auto s = checkRole(role); !s) {
    return std::unexpected(s.error());
  }
  return readPkiFile(pkiPath(dir_, fmt::format("{}.token", role)));
}

}  // namespace overmesh::security
