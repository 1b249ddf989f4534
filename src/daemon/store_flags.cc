#include "daemon/store_flags.h"

#include "common/quote.h"

namespace overmesh::daemon {
namespace {

// The first TLS flag given, for messages about the set as a whole.
std::string_view firstTlsFlag(const StoreTlsFiles& files) {
  if (!files.caFile.empty()) {
    return "--store-cacert";
  }
  return !files.certFile.empty() ? "--store-cert" : "--store-key";
}

void attachTlsFiles(store::StoreLocation& location, const StoreTlsFiles& files) {
  location.caFile = files.caFile;
  location.certFile = files.certFile;
  location.keyFile = files.keyFile;
}

}  // namespace

Result<store::StoreLocation> initStoreLocation(const api::SwarmInitRequest& request) {
  auto location = store::parseStoreUrl(request.store);
  if (!location) {
    return std::unexpected(location.error().withContext("swarm init"));
  }
  StoreTlsFiles files{request.storeCaFile, request.storeCertFile, request.storeKeyFile};
  if (!location->isEtcd()) {
    if (files.any()) {
      return errorf(ErrorKind::InvalidArgument,
                    "swarm init: {} is for an etcd store: give --store etcd://HOST:PORT[,…] "
                    "too, or leave the --store-* flags out for the embedded store",
                    firstTlsFlag(files));
    }
    return location;
  }
  attachTlsFiles(*location, files);
  if (auto checked = store::checkStoreTls(*location); !checked) {
    return std::unexpected(checked.error().withContext("swarm init"));
  }
  return location;
}

Status checkStoreTlsFiles(const StoreTlsFiles& files, std::string_view command) {
  if (!files.any()) {
    return {};
  }
  // The endpoint is a stand-in: only the files are checked here.
  store::StoreLocation location;
  location.kind = store::StoreLocation::Kind::Etcd;
  location.endpoints = {"127.0.0.1:2379"};
  attachTlsFiles(location, files);
  if (auto checked = store::checkStoreTls(location); !checked) {
    return std::unexpected(checked.error().withContext(std::string(command)));
  }
  return {};
}

Result<store::StoreLocation> joinedStoreLocation(std::string_view url, const StoreTlsFiles& files) {
  auto location = store::parseStoreUrl(url);
  if (!location || !location->isEtcd()) {
    return errorf(ErrorKind::Unavailable,
                  "the manager named the store {} for this new manager, which is not an etcd "
                  "store ({}); is it an overmesh manager of the same version?",
                  quote(std::string(url), 200),
                  location ? "a manager needs a shared store" : location.error().message);
  }
  attachTlsFiles(*location, files);
  return location;
}

}  // namespace overmesh::daemon
